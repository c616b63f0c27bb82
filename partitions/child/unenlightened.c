/* unenlightened.elf: a child kernel that knows nothing of the hypervisor.
 * It never looks at CPUID leaves 0x4000xxxx or the synthetic MSRs (nor
 * at any MSR), makes no port access and takes no interrupt: it checks
 * what the root handed over, runs the workload and reports through the
 * mailbox (runtime.c). */
#include "child.h"

void child_main(const struct hv_child_boot *boot, uint64_t entry_rsp, uint64_t entry_rflags)
{
	child_start(boot, entry_rsp, entry_rflags, CHILD_IMAGE_UNENLIGHTENED);
	child_workload(child_iterations());
	child_finish();
}
