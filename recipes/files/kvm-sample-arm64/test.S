/*
 * Guest code for kvm-sample-arm64 (runs in EL1, MMU off, inside a KVM VM).
 *
 * Writes a message byte by byte to an MMIO "UART" at 0x10000000, which lies
 * outside guest RAM: every store is a stage-2 fault that KVM hands to the
 * host as KVM_EXIT_MMIO.  Then writes the exit code to 0x10001000, which the
 * host treats as "power off".
 *
 * Note: MMIO stores must be plain forms without writeback, such as
 * "strb w3, [x1]".  Stores with writeback (e.g. "strb w3, [x1], #1") do not
 * produce a valid instruction syndrome (ISV=0) and KVM cannot emulate them.
 *
 * Position independent (adr / literal pool), loaded at the start of RAM.
 */
	.equ	MMIO_UART,	0x10000000
	.equ	MMIO_EXIT,	0x10001000

	.section .text.boot, "ax"
	.global	_start
_start:
	ldr	x1, =MMIO_UART
	adr	x2, msg
1:	ldrb	w3, [x2], #1		/* RAM read: no exit */
	cbz	w3, 2f
	strb	w3, [x1]		/* MMIO write: KVM_EXIT_MMIO */
	b	1b

2:	ldr	x1, =MMIO_EXIT
	mov	w3, #0			/* exit code */
	strb	w3, [x1]		/* host stops here */
3:	wfi
	b	3b

	.ltorg
msg:	.asciz	"Hello from the arm64 KVM guest\n"
