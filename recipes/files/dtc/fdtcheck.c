/* srcbuild check for the dtc recipe: link against the staged libfdt and use it. */
#include <stdio.h>
#include <libfdt.h>

int main(void)
{
    char buf[256];
    int err = fdt_create_empty_tree(buf, sizeof buf);
    if (err) {
        fprintf(stderr, "fdt_create_empty_tree: %s\n", fdt_strerror(err));
        return 1;
    }
    err = fdt_check_header(buf);
    if (err) {
        fprintf(stderr, "fdt_check_header: %s\n", fdt_strerror(err));
        return 1;
    }
    /* fdt_find_max_phandle is what QEMU >= 7.x probes for (libfdt >= 1.5.1) */
    uint32_t ph = 1;
    if (fdt_find_max_phandle(buf, &ph) != 0 || ph != 0)
        return 1;
    puts("libfdt ok");
    return 0;
}
