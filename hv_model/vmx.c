/* VMX operation of the hypervisor: VMXON on each LP (SDM Vol. 3C 24.7,
 * 24.8), VMCS loading, and the host-state area every VMCS shares. */
#include <hv/vmx.h>

#include "hv.h"
#include "rt.h"

static int vmx_result(uint64_t rflags)
{
	if (rflags & X86_RFLAGS_CF)
		return 1;
	if (rflags & X86_RFLAGS_ZF)
		return 2;
	return 0;
}

#define VMX_MEM_OP(name, insn)							\
	int name(uint64_t pa)							\
	{									\
		uint64_t fl;							\
										\
		asm volatile(insn " %1; pushfq; popq %0" : "=r"(fl) : "m"(pa) : "cc", "memory"); \
		return vmx_result(fl);						\
	}
VMX_MEM_OP(hv_vmclear, "vmclear")
VMX_MEM_OP(hv_vmptrld, "vmptrld")
static VMX_MEM_OP(vmxon, "vmxon")

uint32_t hv_vmcs_revision(void)
{
	return (uint32_t)rdmsr(MSR_IA32_VMX_BASIC) & 0x7fffffff;
}

int hv_vmx_on(unsigned lp)
{
	uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL), region;
	int r;

	if (!(cpuid(1, 0).ecx & (1u << 5))) {
		rt_printf("hv: LP%u: no VMX\n", lp);
		return -1;
	}
	/* SDM 24.7: locked with VMXON outside SMX enabled, or lock it so. */
	if (!(fc & FEATURE_CONTROL_LOCKED))
		wrmsr(MSR_IA32_FEATURE_CONTROL, fc | FEATURE_CONTROL_LOCKED | FEATURE_CONTROL_VMXON_OUTSIDE_SMX);
	else if (!(fc & FEATURE_CONTROL_VMXON_OUTSIDE_SMX)) {
		rt_printf("hv: LP%u: IA32_FEATURE_CONTROL locked with VMX off\n", lp);
		return -1;
	}
	/* SDM 24.8: CR0 and CR4 within the fixed bits. */
	write_cr0((read_cr0() | rdmsr(MSR_IA32_VMX_CR0_FIXED0)) & rdmsr(MSR_IA32_VMX_CR0_FIXED1));
	write_cr4((read_cr4() | rdmsr(MSR_IA32_VMX_CR4_FIXED0)) & rdmsr(MSR_IA32_VMX_CR4_FIXED1));
	/* CR4.OSXSAVE, so that each VP's XCR0 can be loaded before its
	 * entry (exit.c): VMX does not switch it (SDM 28.1). */
	if (cpuid(1, 0).ecx & X86_CPUID1_ECX_XSAVE) {
		write_cr4(read_cr4() | X86_CR4_OSXSAVE);
		hv_lps[lp].xcr0 = 1;
	}
	region = hv_pool_get(&hv_pool);
	if (!region)
		return -1;
	*(uint32_t *)hv_va(region) = hv_vmcs_revision();
	r = vmxon(region);
	if (r) {
		rt_printf("hv: LP%u: VMXON failed (%d)\n", lp, r);
		return -1;
	}
	return 0;
}

/* The host-state area (SDM 25.5): the hypervisor's own CPU state, the
 * same for every VMCS run on LP `lp`.  HOST_RSP and HOST_RIP are written
 * by hv_vmx_run() at each entry. */
void hv_vmcs_write_host(unsigned lp)
{
	vmwrite(VMCS_HOST_CR0, read_cr0());
	vmwrite(VMCS_HOST_CR3, read_cr3());
	vmwrite(VMCS_HOST_CR4, read_cr4());
	vmwrite(VMCS_HOST_CS_SELECTOR, HV_SEL_CODE);
	vmwrite(VMCS_HOST_SS_SELECTOR, HV_SEL_DATA);
	vmwrite(VMCS_HOST_DS_SELECTOR, HV_SEL_DATA);
	vmwrite(VMCS_HOST_ES_SELECTOR, HV_SEL_DATA);
	vmwrite(VMCS_HOST_FS_SELECTOR, 0);
	vmwrite(VMCS_HOST_GS_SELECTOR, 0);
	vmwrite(VMCS_HOST_TR_SELECTOR, HV_SEL_TSS);
	vmwrite(VMCS_HOST_FS_BASE, 0);
	vmwrite(VMCS_HOST_GS_BASE, hv_pa(&hv_lps[lp]));	/* hv_this_lp() */
	vmwrite(VMCS_HOST_TR_BASE, hv_tss_base(lp));
	vmwrite(VMCS_HOST_GDTR_BASE, hv_gdt_base(lp));
	vmwrite(VMCS_HOST_IDTR_BASE, hv_idt_base());
	vmwrite(VMCS_HOST_IA32_SYSENTER_CS, 0);
	vmwrite(VMCS_HOST_IA32_SYSENTER_ESP, 0);
	vmwrite(VMCS_HOST_IA32_SYSENTER_EIP, 0);
	vmwrite(VMCS_HOST_IA32_EFER, rdmsr(MSR_EFER));
	vmwrite(VMCS_HOST_IA32_PAT, rdmsr(MSR_IA32_PAT));
}

/* A control word with `want` set where the capability MSR allows it and
 * its must-be-1 bits (SDM A.3-A.5; the TRUE MSRs, which BASIC[55]
 * promises). */
uint32_t hv_vmx_ctl(uint32_t msr, uint32_t want)
{
	uint64_t cap = rdmsr(msr);

	return ((uint32_t)cap | want) & (uint32_t)(cap >> 32);
}
