/*
 * arm64-hello-guest: bare-metal AArch64 "hello" for QEMU's virt machine.
 *
 * Boot:   qemu-system-aarch64 -M virt -cpu cortex-a57 -nographic -kernel hello-guest.elf
 * QEMU loads the ELF at its link address (0x40080000, inside virt's RAM at
 * 0x40000000) and starts at _start in EL1.  We print a message on the PL011
 * UART at 0x09000000 and power the machine off with PSCI SYSTEM_OFF.
 *
 * PSCI conduit: QEMU's virt machine uses HVC when neither EL2
 * (virtualization=on) nor EL3 (secure=on) is emulated -- the default, and
 * also the case under KVM.  With virtualization=on it would be SMC.
 */
	.equ	UART_BASE,	0x09000000
	.equ	UART_DR,	0x00		/* data register */
	.equ	UART_FR,	0x18		/* flag register */
	.equ	UART_FR_TXFF,	5		/* transmit FIFO full */
	.equ	PSCI_SYSTEM_OFF, 0x84000008

	.section .text.boot, "ax"
	.global	_start
_start:
	ldr	x1, =UART_BASE
	adr	x2, msg
1:	ldrb	w3, [x2], #1
	cbz	w3, 3f
2:	ldr	w4, [x1, #UART_FR]
	tbnz	w4, #UART_FR_TXFF, 2b
	strb	w3, [x1, #UART_DR]
	b	1b

3:	ldr	x0, =PSCI_SYSTEM_OFF
	hvc	#0
	/* Only reached if SYSTEM_OFF did not work. */
4:	wfi
	b	4b

	.ltorg

	.section .rodata, "a"
msg:	.asciz	"Hello from arm64 bare metal\n"
