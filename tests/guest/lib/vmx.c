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
