/* mmio_crash_child.elf: an unenlightened child whose access to memory it
 * was not given cannot be emulated (docs/hypervisor.md "Intercepts").  It
 * is a child kernel built on partitions/child's runtime: the root
 * partition kernel creates it from tests/hv/mmio_crash.yaml.in, next to
 * children that must finish as if it were not there
 * (tests/host/mmio_crash.py).
 *
 * The boot page's workload_iterations picks the access: 1 a store to a
 * GPA in its devices' window where no device is (CHILD_HPET_BASE +
 * 0x1000), 2 an ADD to the HPET's configuration register, an instruction
 * the worker does not emulate.  Either one reaches the root's worker as
 * an unmapped-GPA intercept, and the worker stops the child: it never
 * runs the line after the access.  Before it, the child logs what it
 * does and where, for the test to compare with the worker's report. */
#include "../../partitions/child/child.h"

#define MODE_NO_DEVICE 1
#define MODE_NOT_MOV 2

extern const char crash_store[], crash_add[];

static __attribute__((noinline)) void crash(uint32_t mode)
{
	uint64_t gpa = mode == MODE_NOT_MOV ? CHILD_HPET_BASE + 0x10 : CHILD_HPET_BASE + 0x1000;

	child_info("%s at GPA 0x%lx, RIP 0x%lx", mode == MODE_NOT_MOV ? "an ADD to the HPET" :
		   "a store where no device is", (unsigned long)gpa,
		   (unsigned long)(uintptr_t)(mode == MODE_NOT_MOV ? crash_add : crash_store));
	if (mode == MODE_NOT_MOV)
		asm volatile(".globl crash_add\ncrash_add: addl $1, (%0)" : : "r"(gpa) : "memory");
	else
		asm volatile(".globl crash_store\ncrash_store: movl $0x5a5a5a5a, (%0)" : : "r"(gpa) : "memory");
	child_check(false, "ran past its access to GPA 0x%lx", (unsigned long)gpa);
}

void child_main(const struct hv_child_boot *boot, uint64_t entry_rsp, uint64_t entry_rflags)
{
	uint32_t mode = boot->workload_iterations;

	child_start(boot, entry_rsp, entry_rflags, CHILD_IMAGE_UNENLIGHTENED);
	if (child_check(mode == MODE_NO_DEVICE || mode == MODE_NOT_MOV, "mode %u (iterations) is 1 or 2", mode))
		crash(mode);
	child_finish();
}
