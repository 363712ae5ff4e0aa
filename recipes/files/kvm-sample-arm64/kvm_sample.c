/*
 * kvm-sample-arm64: a minimal KVM host for arm64 (after the "150-line KVM
 * sample" ported to ARM).
 *
 * Creates a VM with 2 MiB of RAM at guest physical 0x80000000, copies the
 * guest image (test.S, embedded via guest-blob.S) to the start of RAM,
 * initialises one vCPU with the preferred target, sets PC through
 * KVM_SET_ONE_REG and runs it.  The guest writes a message byte by byte to
 * MMIO 0x10000000 (outside RAM, so each store is a KVM_EXIT_MMIO); the host
 * prints it.  A write to MMIO 0x10001000 ends the run; the byte written is
 * the exit code.
 *
 * Exit status: 0 ok (guest wrote 0 to the exit port), 1 error/unexpected
 * exit, 77 skipped (no usable /dev/kvm).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define EXIT_SKIP      77
#define GUEST_RAM_BASE 0x80000000ULL	/* must match test.ld */
#define GUEST_RAM_SIZE 0x200000UL	/* 2 MiB: a multiple of 4K/16K/64K pages */
#define MMIO_UART      0x10000000ULL
#define MMIO_EXIT      0x10001000ULL
#define MAX_EXITS      100000

extern const unsigned char guest_image[], guest_image_end[];

/* ONE_REG id of a 64-bit core register, e.g. CORE_REG(regs.pc). */
#define CORE_REG(name) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
			KVM_REG_ARM_CORE_REG(name))

static void die(const char *what)
{
	fprintf(stderr, "kvm-sample-arm64: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void set_reg(int vcpufd, uint64_t id, uint64_t value)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)&value };

	if (ioctl(vcpufd, KVM_SET_ONE_REG, &reg) < 0)
		die("KVM_SET_ONE_REG");
}

int main(void)
{
	int kvm, vmfd, vcpufd, ret;
	long mmap_size;
	uint8_t *mem;
	struct kvm_run *run;
	struct kvm_vcpu_init init;
	size_t image_size = (size_t)(guest_image_end - guest_image);
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
		fprintf(stderr, "kvm-sample-arm64: KVM_GET_API_VERSION = %d, expected 12\n", ret);
		return 1;
	}

	vmfd = ioctl(kvm, KVM_CREATE_VM, 0UL);	/* type 0: default IPA size */
	if (vmfd < 0)
		die("KVM_CREATE_VM");

	/* Guest RAM. */
	if (image_size > GUEST_RAM_SIZE) {
		fprintf(stderr, "kvm-sample-arm64: guest image too big (%zu)\n", image_size);
		return 1;
	}
	mem = mmap(NULL, GUEST_RAM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap guest memory");
	memcpy(mem, guest_image, image_size);

	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.flags = 0,
		.guest_phys_addr = GUEST_RAM_BASE,
		.memory_size = GUEST_RAM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	if (ioctl(vmfd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");

	vcpufd = ioctl(vmfd, KVM_CREATE_VCPU, 0UL);
	if (vcpufd < 0)
		die("KVM_CREATE_VCPU");

	/* Let KVM pick the CPU model matching the host, then initialise the vCPU. */
	memset(&init, 0, sizeof(init));
	if (ioctl(vmfd, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		die("KVM_ARM_PREFERRED_TARGET");
	if (ioctl(vcpufd, KVM_ARM_VCPU_INIT, &init) < 0)
		die("KVM_ARM_VCPU_INIT");

	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (mmap_size < 0)
		die("KVM_GET_VCPU_MMAP_SIZE");
	if ((size_t)mmap_size < sizeof(*run)) {
		fprintf(stderr, "kvm-sample-arm64: mmap size %ld too small\n", mmap_size);
		return 1;
	}
	run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpufd, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");

	/* After VCPU_INIT the vCPU is in EL1h with interrupts masked; set PC. */
	set_reg(vcpufd, CORE_REG(regs.pc), GUEST_RAM_BASE);

	for (;;) {
		if (ioctl(vcpufd, KVM_RUN, NULL) < 0) {
			if (errno == EINTR)
				continue;
			die("KVM_RUN");
		}
		if (++exits > MAX_EXITS) {
			fprintf(stderr, "kvm-sample-arm64: too many exits, giving up\n");
			return 1;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_MMIO:
			if (!run->mmio.is_write) {
				fprintf(stderr, "kvm-sample-arm64: unexpected MMIO read at 0x%llx\n",
					(unsigned long long)run->mmio.phys_addr);
				return 1;
			}
			if (run->mmio.phys_addr == MMIO_UART) {
				putchar(run->mmio.data[0]);
				fflush(stdout);
			} else if (run->mmio.phys_addr == MMIO_EXIT) {
				fflush(stdout);
				fprintf(stderr, "kvm-sample-arm64: guest wrote exit port (%u) after %lu exits\n",
					run->mmio.data[0], exits);
				return run->mmio.data[0];
			} else {
				fprintf(stderr, "kvm-sample-arm64: unexpected MMIO write at 0x%llx\n",
					(unsigned long long)run->mmio.phys_addr);
				return 1;
			}
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			fprintf(stderr, "kvm-sample-arm64: system event %u (PSCI off/reset)\n",
				run->system_event.type);
			return 0;
#ifdef KVM_EXIT_ARM_NISV
		case KVM_EXIT_ARM_NISV:
			fprintf(stderr, "kvm-sample-arm64: MMIO access without valid syndrome at 0x%llx "
				"(guest used a writeback store?)\n",
				(unsigned long long)run->arm_nisv.fault_ipa);
			return 1;
#endif
		case KVM_EXIT_FAIL_ENTRY:
			fprintf(stderr, "kvm-sample-arm64: KVM_EXIT_FAIL_ENTRY: reason 0x%llx\n",
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			return 1;
		case KVM_EXIT_INTERNAL_ERROR:
			fprintf(stderr, "kvm-sample-arm64: KVM_EXIT_INTERNAL_ERROR: suberror 0x%x\n",
				run->internal.suberror);
			return 1;
		default:
			fprintf(stderr, "kvm-sample-arm64: unexpected exit reason %u\n",
				run->exit_reason);
			return 1;
		}
	}
}
