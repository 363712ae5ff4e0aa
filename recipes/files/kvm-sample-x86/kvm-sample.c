/*
 * kvm-sample-x86: a minimal KVM host ("the 150-line KVM sample").
 *
 * Creates a VM with 64 KiB of memory, loads a few bytes of 16-bit real-mode
 * code at guest physical 0x1000, and runs one vCPU.  The guest writes a
 * message byte by byte to I/O port 0x3f8 and executes hlt.  The host prints
 * every byte it sees on KVM_EXIT_IO and exits 0 on KVM_EXIT_HLT.
 *
 * Exit status: 0 ok, 1 error/unexpected exit, 77 skipped (no usable /dev/kvm).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define EXIT_SKIP 77
#define MEM_SIZE  0x10000
#define CODE_ADDR 0x1000
#define SERIAL    0x3f8
#define MAX_EXITS 100000

/*
 * Guest code (assembled from this, .code16, loaded at 0x1000):
 *   0: ba f8 03     mov  $0x3f8, %dx
 *   3: be 11 10     mov  $0x1011, %si     ; address of msg
 *   6: ac           1: lodsb               ; al = [ds:si++]
 *   7: 84 c0        test %al, %al
 *   9: 74 03        jz   2f
 *   b: ee           out  %al, (%dx)
 *   c: eb f8        jmp  1b
 *   e: f4           2: hlt
 *   f: eb fd        jmp  2b
 *  11: msg: .asciz "Hello from the KVM guest\n"
 */
static const uint8_t guest_code[] = {
	0xba, 0xf8, 0x03, 0xbe, 0x11, 0x10, 0xac, 0x84, 0xc0,
	0x74, 0x03, 0xee, 0xeb, 0xf8, 0xf4, 0xeb, 0xfd,
};
static const char guest_msg[] = "Hello from the KVM guest\n";

static void die(const char *what)
{
	fprintf(stderr, "kvm-sample: %s: %s\n", what, strerror(errno));
	exit(1);
}

int main(void)
{
	int kvm, vmfd, vcpufd, ret;
	long mmap_size;
	uint8_t *mem;
	struct kvm_run *run;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	unsigned long exits = 0;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "SKIP: cannot open /dev/kvm: %s "
			"(no KVM on this machine, or no permission)\n",
			strerror(errno));
		return EXIT_SKIP;
	}

	ret = ioctl(kvm, KVM_GET_API_VERSION, NULL);
	if (ret < 0)
		die("KVM_GET_API_VERSION");
	if (ret != 12) {
		fprintf(stderr, "kvm-sample: KVM_GET_API_VERSION = %d, expected 12\n", ret);
		return 1;
	}

	vmfd = ioctl(kvm, KVM_CREATE_VM, 0UL);
	if (vmfd < 0)
		die("KVM_CREATE_VM");

	/* Guest memory: anonymous mapping, code copied to 0x1000. */
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap guest memory");
	memcpy(mem + CODE_ADDR, guest_code, sizeof(guest_code));
	memcpy(mem + CODE_ADDR + sizeof(guest_code), guest_msg, sizeof(guest_msg));

	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	if (ioctl(vmfd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");

	vcpufd = ioctl(vmfd, KVM_CREATE_VCPU, 0UL);
	if (vcpufd < 0)
		die("KVM_CREATE_VCPU");

	/* The kvm_run structure is shared with the kernel through mmap. */
	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (mmap_size < 0)
		die("KVM_GET_VCPU_MMAP_SIZE");
	if ((size_t)mmap_size < sizeof(*run)) {
		fprintf(stderr, "kvm-sample: mmap size %ld too small\n", mmap_size);
		return 1;
	}
	run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpufd, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");

	/* Real mode, code segment at base 0. */
	if (ioctl(vcpufd, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.ds.base = 0;
	sregs.ds.selector = 0;
	if (ioctl(vcpufd, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");

	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_ADDR;
	regs.rflags = 0x2; /* bit 1 is reserved and must be set */
	if (ioctl(vcpufd, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");

	for (;;) {
		if (ioctl(vcpufd, KVM_RUN, NULL) < 0) {
			if (errno == EINTR)
				continue;
			die("KVM_RUN");
		}
		if (++exits > MAX_EXITS) {
			fprintf(stderr, "kvm-sample: too many exits, giving up\n");
			return 1;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_HLT:
			fflush(stdout);
			fprintf(stderr, "kvm-sample: KVM_EXIT_HLT after %lu exits\n", exits);
			return 0;
		case KVM_EXIT_IO:
			if (run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 1 &&
			    run->io.port == SERIAL && run->io.count == 1) {
				putchar(*((char *)run + run->io.data_offset));
				fflush(stdout);
			} else {
				fprintf(stderr, "kvm-sample: unexpected KVM_EXIT_IO "
					"dir=%u size=%u port=0x%x count=%u\n",
					run->io.direction, run->io.size,
					run->io.port, run->io.count);
				return 1;
			}
			break;
		case KVM_EXIT_FAIL_ENTRY:
			fprintf(stderr, "kvm-sample: KVM_EXIT_FAIL_ENTRY: reason 0x%llx\n",
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			return 1;
		case KVM_EXIT_INTERNAL_ERROR:
			fprintf(stderr, "kvm-sample: KVM_EXIT_INTERNAL_ERROR: suberror 0x%x\n",
				run->internal.suberror);
			return 1;
		default:
			fprintf(stderr, "kvm-sample: unexpected exit reason %u\n",
				run->exit_reason);
			return 1;
		}
	}
}
