/* VMX set-up shared by the VMX guest tests. */
#include "vmx.h"

uint8_t vmx_vmxon_region[4096] __attribute__((aligned(4096)));
uint8_t vmx_vmcs_region[4096] __attribute__((aligned(4096)));

uint32_t vmx_ctl(uint32_t msr, uint32_t want)
{
	uint64_t cap = rdmsr(msr);

	return ((uint32_t)cap | want) & (uint32_t)(cap >> 32);
}

int vmx_on(void)
{
	uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
	uint32_t rev = (uint32_t)rdmsr(MSR_IA32_VMX_BASIC) & 0x7fffffff;

	if (!(fc & FEATURE_CONTROL_LOCKED))
		wrmsr(MSR_IA32_FEATURE_CONTROL, FEATURE_CONTROL_LOCKED | FEATURE_CONTROL_VMXON_OUTSIDE_SMX);
	/* CR0 and CR4 must satisfy IA32_VMX_CR0/CR4_FIXED0 (SDM 24.8):
	 * NE is the bit a freshly booted kernel lacks. */
	write_cr0(read_cr0() | (uint32_t)rdmsr(MSR_IA32_VMX_CR0_FIXED0));
	write_cr4(read_cr4() | CR4_VMXE);
	*(uint32_t *)vmx_vmxon_region = rev;
	*(uint32_t *)vmx_vmcs_region = rev;
	return vmxon((uint64_t)(uintptr_t)vmx_vmxon_region);
}

struct dtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

void vmx_setup_vmcs(void (*entry)(void), void *stack_top)
{
	struct dtr gdtr, idtr;
	uint64_t tss_lo = guest_gdt[GUEST_TSS / 8], tss_hi = guest_gdt[GUEST_TSS / 8 + 1];
	uint64_t tss = ((tss_lo >> 16) & 0xffffff) | (((tss_lo >> 56) & 0xff) << 24) | (tss_hi << 32);
	uint64_t pa = (uint64_t)(uintptr_t)vmx_vmcs_region;

	asm volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
	vmclear(pa);
	vmptrld(pa);
	vmwrite(VMCS_PIN_BASED_CTLS, vmx_ctl(MSR_IA32_VMX_TRUE_PINBASED_CTLS, 0));
	vmwrite(VMCS_PROC_BASED_CTLS, vmx_ctl(MSR_IA32_VMX_TRUE_PROCBASED_CTLS, 0));
	vmwrite(VMCS_EXIT_CTLS, vmx_ctl(MSR_IA32_VMX_TRUE_EXIT_CTLS, VM_EXIT_HOST_ADDR_SPACE_SIZE));
	vmwrite(VMCS_ENTRY_CTLS, vmx_ctl(MSR_IA32_VMX_TRUE_ENTRY_CTLS, VM_ENTRY_IA32E_MODE));
	vmwrite(VMCS_EXCEPTION_BITMAP, 0);
	vmwrite(VMCS_CR3_TARGET_COUNT, 0);
	vmwrite(VMCS_LINK_POINTER, ~0ull);
	/* host state: this kernel */
	vmwrite(VMCS_HOST_CR0, read_cr0());
	vmwrite(VMCS_HOST_CR3, read_cr3());
	vmwrite(VMCS_HOST_CR4, read_cr4());
	vmwrite(VMCS_HOST_CS_SELECTOR, GUEST_CS64);
	vmwrite(VMCS_HOST_SS_SELECTOR, GUEST_DS);
	vmwrite(VMCS_HOST_DS_SELECTOR, GUEST_DS);
	vmwrite(VMCS_HOST_ES_SELECTOR, GUEST_DS);
	vmwrite(VMCS_HOST_FS_SELECTOR, GUEST_DS);
	vmwrite(VMCS_HOST_GS_SELECTOR, GUEST_DS);
	vmwrite(VMCS_HOST_TR_SELECTOR, GUEST_TSS);
	vmwrite(VMCS_HOST_FS_BASE, 0);
	vmwrite(VMCS_HOST_GS_BASE, 0);
	vmwrite(VMCS_HOST_TR_BASE, tss);
	vmwrite(VMCS_HOST_GDTR_BASE, gdtr.base);
	vmwrite(VMCS_HOST_IDTR_BASE, idtr.base);
	vmwrite(VMCS_HOST_IA32_SYSENTER_CS, 0);
	vmwrite(VMCS_HOST_IA32_SYSENTER_ESP, 0);
	vmwrite(VMCS_HOST_IA32_SYSENTER_EIP, 0);
	/* guest state: a 64-bit kernel on the same tables */
	vmwrite(VMCS_GUEST_CR0, read_cr0());
	vmwrite(VMCS_GUEST_CR3, read_cr3());
	vmwrite(VMCS_GUEST_CR4, read_cr4());
	vmwrite(VMCS_GUEST_DR7, 0x400);
	vmwrite(VMCS_GUEST_RSP, (uint64_t)(uintptr_t)stack_top);
	vmwrite(VMCS_GUEST_RIP, (uint64_t)(uintptr_t)entry);
	vmwrite(VMCS_GUEST_RFLAGS, 2);
	for (int n = 0; n < 6; n++) {
		int cs = n == 1;

		vmwrite(VMCS_GUEST_ES_SELECTOR + 2 * n, cs ? GUEST_CS64 : GUEST_DS);
		vmwrite(VMCS_GUEST_ES_BASE + 2 * n, 0);
		vmwrite(VMCS_GUEST_ES_LIMIT + 2 * n, 0xffffffff);
		vmwrite(VMCS_GUEST_ES_AR_BYTES + 2 * n, cs ? 0xa09b : 0xc093);
	}
	vmwrite(VMCS_GUEST_LDTR_SELECTOR, 0);
	vmwrite(VMCS_GUEST_LDTR_AR_BYTES, 0x10000);
	vmwrite(VMCS_GUEST_TR_SELECTOR, GUEST_TSS);
	vmwrite(VMCS_GUEST_TR_BASE, tss);
	vmwrite(VMCS_GUEST_TR_LIMIT, 0x67);
	vmwrite(VMCS_GUEST_TR_AR_BYTES, 0x8b);
	vmwrite(VMCS_GUEST_GDTR_BASE, gdtr.base);
	vmwrite(VMCS_GUEST_GDTR_LIMIT, gdtr.limit);
	vmwrite(VMCS_GUEST_IDTR_BASE, idtr.base);
	vmwrite(VMCS_GUEST_IDTR_LIMIT, idtr.limit);
	vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
	vmwrite(VMCS_GUEST_ACTIVITY_STATE, 0);
	vmwrite(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0);
	vmwrite(VMCS_GUEST_IA32_SYSENTER_CS, 0);
	vmwrite(VMCS_GUEST_SYSENTER_ESP, 0);
	vmwrite(VMCS_GUEST_SYSENTER_EIP, 0);
}

static uint64_t ept_pml4[512] __attribute__((aligned(4096)));
static uint64_t ept_pdpt[512] __attribute__((aligned(4096)));
static uint64_t ept_pd[4][512] __attribute__((aligned(4096)));

uint64_t vmx_ept_identity(void)
{
	const uint64_t rwx = EPTE_READ | EPTE_WRITE | EPTE_EXEC, wb = 6ull << EPTE_MEMTYPE_SHIFT;
	uint64_t cap = rdmsr(MSR_IA32_VMX_EPT_VPID_CAP);

	if (!(cap & EPT_VPID_CAP_PWL4) || !(cap & EPT_VPID_CAP_2MB) || !(cap & EPT_VPID_CAP_WB))
		return 0;
	if (!ept_pml4[0]) {
		for (int i = 0; i < 2048; i++)
			ept_pd[i / 512][i % 512] = ((uint64_t)i << 21) | rwx | wb | EPTE_LARGE_PAGE;
		for (int i = 0; i < 4; i++)
			ept_pdpt[i] = (uintptr_t)ept_pd[i] | rwx;
		ept_pml4[0] = (uintptr_t)ept_pdpt | rwx;
	}
	return (uintptr_t)ept_pml4 | (3ull << EPTP_WALK_LENGTH_SHIFT) | 6;
}

uint64_t *vmx_ept_identity_pde(uint64_t gpa)
{
	return &ept_pd[(gpa >> 30) & 3][(gpa >> 21) & 511];
}

void vmx_set_unrestricted(void)
{
	vmwrite(VMCS_PROC_BASED_CTLS, vmread(VMCS_PROC_BASED_CTLS) | CPU_BASED_ACTIVATE_SECONDARY_CONTROLS);
	vmwrite(VMCS_PROC_BASED_CTLS2, SECONDARY_ENABLE_EPT | SECONDARY_UNRESTRICTED_GUEST);
	vmwrite(VMCS_EPT_POINTER, vmx_ept_identity());
}

void vmx_guest_real_mode(uint16_t cs, uint16_t ip, uint16_t sp, uint32_t ivt)
{
	uint64_t fixed0 = rdmsr(MSR_IA32_VMX_CR0_FIXED0) & ~(uint64_t)(X86_CR0_PE | X86_CR0_PG);

	for (int n = 0; n < 6; n++) {
		uint16_t sel = n == 1 ? cs : 0;

		vmwrite(VMCS_GUEST_ES_SELECTOR + 2 * n, sel);
		vmwrite(VMCS_GUEST_ES_BASE + 2 * n, (uint64_t)sel << 4);
		vmwrite(VMCS_GUEST_ES_LIMIT + 2 * n, 0xffff);
		vmwrite(VMCS_GUEST_ES_AR_BYTES + 2 * n, n == 1 ? 0x9b : 0x93);
	}
	vmwrite(VMCS_GUEST_TR_SELECTOR, 0);
	vmwrite(VMCS_GUEST_TR_BASE, 0);
	vmwrite(VMCS_GUEST_TR_LIMIT, 0xffff);
	vmwrite(VMCS_GUEST_TR_AR_BYTES, 0x8b);
	vmwrite(VMCS_GUEST_LDTR_SELECTOR, 0);
	vmwrite(VMCS_GUEST_LDTR_AR_BYTES, VMX_AR_UNUSABLE);
	vmwrite(VMCS_GUEST_GDTR_BASE, 0);
	vmwrite(VMCS_GUEST_GDTR_LIMIT, 0xffff);
	vmwrite(VMCS_GUEST_IDTR_BASE, ivt);
	vmwrite(VMCS_GUEST_IDTR_LIMIT, 0x3ff);
	vmwrite(VMCS_GUEST_CR0, fixed0 | (1ull << 4));	/* ET: hardwired 1 */
	vmwrite(VMCS_GUEST_CR3, 0);
	vmwrite(VMCS_GUEST_CR4, rdmsr(MSR_IA32_VMX_CR4_FIXED0));
	vmwrite(VMCS_GUEST_RIP, ip);
	vmwrite(VMCS_GUEST_RSP, sp);
	vmwrite(VMCS_GUEST_RFLAGS, 2);
	vmwrite(VMCS_GUEST_IA32_EFER, 0);
	vmwrite(VMCS_ENTRY_CTLS, (vmread(VMCS_ENTRY_CTLS) & ~(uint64_t)VM_ENTRY_IA32E_MODE) | VM_ENTRY_LOAD_EFER);
}
