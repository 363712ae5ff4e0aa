/* Embeds the flat guest image (guest.bin, built from test.S) into the host program. */
	.section .rodata, "a"
	.balign	16
	.global	guest_image, guest_image_end
guest_image:
	.incbin	"guest.bin"
guest_image_end:
	.section .note.GNU-stack, "", %progbits
