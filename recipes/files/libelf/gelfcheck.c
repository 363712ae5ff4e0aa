/* libelf check: open our own executable and read its ELF header through gelf. */
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	GElf_Ehdr ehdr;
	Elf *elf;
	int fd;

	(void)argc;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return 1;
	fd = open(argv[0], O_RDONLY);
	elf = fd < 0 ? NULL : elf_begin(fd, ELF_C_READ, NULL);
	if (elf == NULL || gelf_getehdr(elf, &ehdr) == NULL) {
		fprintf(stderr, "gelfcheck: %s\n", elf_errmsg(-1));
		return 1;
	}
	printf("gelfcheck: %s is an ELF of machine %d with %d program headers\n", argv[0],
	       ehdr.e_machine, ehdr.e_phnum);
	elf_end(elf);
	close(fd);
	return 0;
}
