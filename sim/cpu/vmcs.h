/* The VMCS field table: every field of SDM Vol. 3D Appendix B, its width,
 * type, the capability it exists with and its slot in the simulator's
 * cached copy of a VMCS.  VMREAD/VMWRITE, VM entry and exit and tracing
 * all go through this one table (the KVM nested-VMX pattern: VMCS as a
 * struct plus one field table).
 *
 * VMCS_FIELD_LIST below is the table.  Each entry names a VMCS_* encoding
 * of include/hv/vmx.h without its prefix, the field's lower-case name
 * (used in traces and stats), its width and type as the SDM's Appendix B
 * tables list them, and the VMCS_FEAT_* it needs.  Entries are in
 * encoding order; a field's slot is its position.  Width and type are
 * written out although the encoding implies them so that a mistyped
 * encoding cannot land silently in another table (tests/unit/test_vmcs.c
 * checks the two agree). */
#ifndef SIM_CPU_VMCS_H
#define SIM_CPU_VMCS_H

#include <stddef.h>
#include <stdint.h>

#include "hv/vmx.h"

/* Encoding bits 14:13 (SDM Vol. 3C 25.11.2). */
enum vmcs_width { VMCS_WIDTH_16 = 0, VMCS_WIDTH_64 = 1, VMCS_WIDTH_32 = 2, VMCS_WIDTH_NATURAL = 3 };
/* Encoding bits 11:10. */
enum vmcs_type { VMCS_TYPE_CONTROL = 0, VMCS_TYPE_EXIT_INFO = 1, VMCS_TYPE_GUEST = 2, VMCS_TYPE_HOST = 3 };

/* The processor capability a field exists with (the footnotes of the
 * Appendix B tables).  A CPU model offering a set of features keeps a
 * mask of (1ull << VMCS_FEAT_x) and answers VMREAD/VMWRITE of a field
 * whose feature is outside it with VMXERR_UNSUPPORTED_VMCS_COMPONENT. */
enum vmcs_feature {
	VMCS_FEAT_NONE = 0,		/* every VMX processor has the field */
	VMCS_FEAT_MSR_BITMAPS,		/* "use MSR bitmaps" */
	VMCS_FEAT_VPID,			/* "enable VPID" */
	VMCS_FEAT_POSTED_INTR,		/* "process posted interrupts" */
	VMCS_FEAT_EPT,			/* "enable EPT" */
	VMCS_FEAT_EPT_VE,		/* "EPT-violation #VE" */
	VMCS_FEAT_EPTP_SWITCHING,	/* VM function 0, EPTP switching */
	VMCS_FEAT_VMFUNC,		/* "enable VM functions" */
	VMCS_FEAT_VIRT_INTR_DELIVERY,	/* "virtual-interrupt delivery" */
	VMCS_FEAT_TPR_SHADOW,		/* "use TPR shadow" */
	VMCS_FEAT_APIC_ACCESS,		/* "virtualize APIC accesses" */
	VMCS_FEAT_SECONDARY,		/* "activate secondary controls" */
	VMCS_FEAT_TERTIARY,		/* "activate tertiary controls" */
	VMCS_FEAT_SECONDARY_EXIT,	/* "activate secondary controls" VM-exit control */
	VMCS_FEAT_PLE,			/* "PAUSE-loop exiting" */
	VMCS_FEAT_PML,			/* "enable PML" */
	VMCS_FEAT_VMCS_SHADOWING,	/* "VMCS shadowing" */
	VMCS_FEAT_XSAVES,		/* "enable XSAVES/XRSTORS" */
	VMCS_FEAT_ENCLS,		/* "enable ENCLS exiting" */
	VMCS_FEAT_ENCLV,		/* "enable ENCLV exiting" */
	VMCS_FEAT_SPP,			/* "sub-page write permissions for EPT" */
	VMCS_FEAT_TSC_SCALING,		/* "use TSC scaling" */
	VMCS_FEAT_PASID_TRANSLATION,	/* "PASID translation" */
	VMCS_FEAT_PCONFIG,		/* "enable PCONFIG" */
	VMCS_FEAT_HLAT,			/* "enable HLAT" */
	VMCS_FEAT_IPI_VIRT,		/* "IPI virtualization" */
	VMCS_FEAT_SPEC_CTRL_VIRT,	/* "virtualize IA32_SPEC_CTRL" */
	VMCS_FEAT_INSTRUCTION_TIMEOUT,	/* "instruction timeout" */
	VMCS_FEAT_PREEMPTION_TIMER,	/* "activate VMX-preemption timer" */
	VMCS_FEAT_PAT,			/* "load IA32_PAT" / "save IA32_PAT" */
	VMCS_FEAT_EFER,			/* "load IA32_EFER" / "save IA32_EFER" */
	VMCS_FEAT_PERF_GLOBAL_CTRL,	/* "load IA32_PERF_GLOBAL_CTRL" */
	VMCS_FEAT_MPX,			/* "load IA32_BNDCFGS" / "clear IA32_BNDCFGS" */
	VMCS_FEAT_RTIT,			/* "load IA32_RTIT_CTL" / "clear IA32_RTIT_CTL" */
	VMCS_FEAT_ARCH_LBR,		/* "load guest IA32_LBR_CTL" / "clear IA32_LBR_CTL" */
	VMCS_FEAT_PKRS,			/* "load PKRS" (entry and exit) */
	VMCS_FEAT_CET,			/* "load CET state" (entry and exit) */
	VMCS_FEAT_UINTR,		/* "load guest UINV" / "clear UINV" */
	VMCS_FEAT_FRED,			/* "load FRED" / "save FRED" */
	VMCS_FEAT_COUNT
};

_Static_assert(VMCS_FEAT_COUNT <= 64, "feature masks are 64-bit");

/* X(name, lower-case name, width, type, feature), in encoding order;
 * width is 16, 64, 32 or NATURAL, type CONTROL, EXIT_INFO, GUEST or HOST,
 * feature a VMCS_FEAT_* suffix. */
#define VMCS_FIELD_LIST(X)							\
	/* B.1.1 16-bit control fields */					\
	X(VPID, vpid, 16, CONTROL, VPID)					\
	X(POSTED_INTR_NV, posted_intr_nv, 16, CONTROL, POSTED_INTR)		\
	X(EPTP_INDEX, eptp_index, 16, CONTROL, EPT_VE)				\
	X(HLAT_PREFIX_SIZE, hlat_prefix_size, 16, CONTROL, HLAT)		\
	X(LAST_PID_POINTER_INDEX, last_pid_pointer_index, 16, CONTROL, IPI_VIRT) \
	/* B.1.2 16-bit guest-state fields */					\
	X(GUEST_ES_SELECTOR, guest_es_selector, 16, GUEST, NONE)		\
	X(GUEST_CS_SELECTOR, guest_cs_selector, 16, GUEST, NONE)		\
	X(GUEST_SS_SELECTOR, guest_ss_selector, 16, GUEST, NONE)		\
	X(GUEST_DS_SELECTOR, guest_ds_selector, 16, GUEST, NONE)		\
	X(GUEST_FS_SELECTOR, guest_fs_selector, 16, GUEST, NONE)		\
	X(GUEST_GS_SELECTOR, guest_gs_selector, 16, GUEST, NONE)		\
	X(GUEST_LDTR_SELECTOR, guest_ldtr_selector, 16, GUEST, NONE)		\
	X(GUEST_TR_SELECTOR, guest_tr_selector, 16, GUEST, NONE)		\
	X(GUEST_INTR_STATUS, guest_intr_status, 16, GUEST, VIRT_INTR_DELIVERY)	\
	X(GUEST_PML_INDEX, guest_pml_index, 16, GUEST, PML)			\
	X(GUEST_UINV, guest_uinv, 16, GUEST, UINTR)				\
	/* B.1.3 16-bit host-state fields */					\
	X(HOST_ES_SELECTOR, host_es_selector, 16, HOST, NONE)			\
	X(HOST_CS_SELECTOR, host_cs_selector, 16, HOST, NONE)			\
	X(HOST_SS_SELECTOR, host_ss_selector, 16, HOST, NONE)			\
	X(HOST_DS_SELECTOR, host_ds_selector, 16, HOST, NONE)			\
	X(HOST_FS_SELECTOR, host_fs_selector, 16, HOST, NONE)			\
	X(HOST_GS_SELECTOR, host_gs_selector, 16, HOST, NONE)			\
	X(HOST_TR_SELECTOR, host_tr_selector, 16, HOST, NONE)			\
	/* B.2.1 64-bit control fields */					\
	X(IO_BITMAP_A, io_bitmap_a, 64, CONTROL, NONE)				\
	X(IO_BITMAP_B, io_bitmap_b, 64, CONTROL, NONE)				\
	X(MSR_BITMAP, msr_bitmap, 64, CONTROL, MSR_BITMAPS)			\
	X(EXIT_MSR_STORE_ADDR, exit_msr_store_addr, 64, CONTROL, NONE)		\
	X(EXIT_MSR_LOAD_ADDR, exit_msr_load_addr, 64, CONTROL, NONE)		\
	X(ENTRY_MSR_LOAD_ADDR, entry_msr_load_addr, 64, CONTROL, NONE)		\
	X(EXECUTIVE_VMCS_PTR, executive_vmcs_ptr, 64, CONTROL, NONE)		\
	X(PML_ADDRESS, pml_address, 64, CONTROL, PML)				\
	X(TSC_OFFSET, tsc_offset, 64, CONTROL, NONE)				\
	X(VIRTUAL_APIC_PAGE_ADDR, virtual_apic_page_addr, 64, CONTROL, TPR_SHADOW) \
	X(APIC_ACCESS_ADDR, apic_access_addr, 64, CONTROL, APIC_ACCESS)		\
	X(POSTED_INTR_DESC_ADDR, posted_intr_desc_addr, 64, CONTROL, POSTED_INTR) \
	X(VMFUNC_CONTROLS, vmfunc_controls, 64, CONTROL, VMFUNC)		\
	X(EPT_POINTER, ept_pointer, 64, CONTROL, EPT)				\
	X(EOI_EXIT_BITMAP0, eoi_exit_bitmap0, 64, CONTROL, VIRT_INTR_DELIVERY)	\
	X(EOI_EXIT_BITMAP1, eoi_exit_bitmap1, 64, CONTROL, VIRT_INTR_DELIVERY)	\
	X(EOI_EXIT_BITMAP2, eoi_exit_bitmap2, 64, CONTROL, VIRT_INTR_DELIVERY)	\
	X(EOI_EXIT_BITMAP3, eoi_exit_bitmap3, 64, CONTROL, VIRT_INTR_DELIVERY)	\
	X(EPTP_LIST_ADDR, eptp_list_addr, 64, CONTROL, EPTP_SWITCHING)		\
	X(VMREAD_BITMAP, vmread_bitmap, 64, CONTROL, VMCS_SHADOWING)		\
	X(VMWRITE_BITMAP, vmwrite_bitmap, 64, CONTROL, VMCS_SHADOWING)		\
	X(VE_INFO_ADDR, ve_info_addr, 64, CONTROL, EPT_VE)			\
	X(XSS_EXIT_BITMAP, xss_exit_bitmap, 64, CONTROL, XSAVES)		\
	X(ENCLS_EXIT_BITMAP, encls_exit_bitmap, 64, CONTROL, ENCLS)		\
	X(SPP_TABLE_POINTER, spp_table_pointer, 64, CONTROL, SPP)		\
	X(TSC_MULTIPLIER, tsc_multiplier, 64, CONTROL, TSC_SCALING)		\
	X(PROC_BASED_CTLS3, proc_based_ctls3, 64, CONTROL, TERTIARY)		\
	X(ENCLV_EXIT_BITMAP, enclv_exit_bitmap, 64, CONTROL, ENCLV)		\
	X(LOW_PASID_DIR_ADDR, low_pasid_dir_addr, 64, CONTROL, PASID_TRANSLATION) \
	X(HIGH_PASID_DIR_ADDR, high_pasid_dir_addr, 64, CONTROL, PASID_TRANSLATION) \
	X(PCONFIG_EXIT_BITMAP, pconfig_exit_bitmap, 64, CONTROL, PCONFIG)	\
	X(HLAT_POINTER, hlat_pointer, 64, CONTROL, HLAT)			\
	X(PID_POINTER_TABLE_ADDR, pid_pointer_table_addr, 64, CONTROL, IPI_VIRT) \
	X(EXIT_CTLS2, exit_ctls2, 64, CONTROL, SECONDARY_EXIT)			\
	X(SPEC_CTRL_MASK, spec_ctrl_mask, 64, CONTROL, SPEC_CTRL_VIRT)		\
	X(SPEC_CTRL_SHADOW, spec_ctrl_shadow, 64, CONTROL, SPEC_CTRL_VIRT)	\
	X(INJECTED_EVENT_DATA, injected_event_data, 64, CONTROL, FRED)		\
	/* B.2.2 64-bit read-only data fields */				\
	X(GUEST_PHYSICAL_ADDRESS, guest_physical_address, 64, EXIT_INFO, EPT)	\
	X(ORIGINAL_EVENT_DATA, original_event_data, 64, EXIT_INFO, FRED)	\
	/* B.2.3 64-bit guest-state fields */					\
	X(LINK_POINTER, link_pointer, 64, GUEST, NONE)				\
	X(GUEST_IA32_DEBUGCTL, guest_ia32_debugctl, 64, GUEST, NONE)		\
	X(GUEST_IA32_PAT, guest_ia32_pat, 64, GUEST, PAT)			\
	X(GUEST_IA32_EFER, guest_ia32_efer, 64, GUEST, EFER)			\
	X(GUEST_IA32_PERF_GLOBAL_CTRL, guest_ia32_perf_global_ctrl, 64, GUEST, PERF_GLOBAL_CTRL) \
	X(GUEST_PDPTE0, guest_pdpte0, 64, GUEST, EPT)				\
	X(GUEST_PDPTE1, guest_pdpte1, 64, GUEST, EPT)				\
	X(GUEST_PDPTE2, guest_pdpte2, 64, GUEST, EPT)				\
	X(GUEST_PDPTE3, guest_pdpte3, 64, GUEST, EPT)				\
	X(GUEST_IA32_BNDCFGS, guest_ia32_bndcfgs, 64, GUEST, MPX)		\
	X(GUEST_IA32_RTIT_CTL, guest_ia32_rtit_ctl, 64, GUEST, RTIT)		\
	X(GUEST_IA32_LBR_CTL, guest_ia32_lbr_ctl, 64, GUEST, ARCH_LBR)		\
	X(GUEST_IA32_PKRS, guest_ia32_pkrs, 64, GUEST, PKRS)			\
	X(GUEST_IA32_FRED_CONFIG, guest_ia32_fred_config, 64, GUEST, FRED)	\
	X(GUEST_IA32_FRED_RSP1, guest_ia32_fred_rsp1, 64, GUEST, FRED)		\
	X(GUEST_IA32_FRED_RSP2, guest_ia32_fred_rsp2, 64, GUEST, FRED)		\
	X(GUEST_IA32_FRED_RSP3, guest_ia32_fred_rsp3, 64, GUEST, FRED)		\
	X(GUEST_IA32_FRED_STKLVLS, guest_ia32_fred_stklvls, 64, GUEST, FRED)	\
	X(GUEST_IA32_FRED_SSP1, guest_ia32_fred_ssp1, 64, GUEST, FRED)		\
	X(GUEST_IA32_FRED_SSP2, guest_ia32_fred_ssp2, 64, GUEST, FRED)		\
	X(GUEST_IA32_FRED_SSP3, guest_ia32_fred_ssp3, 64, GUEST, FRED)		\
	/* B.2.4 64-bit host-state fields */					\
	X(HOST_IA32_PAT, host_ia32_pat, 64, HOST, PAT)				\
	X(HOST_IA32_EFER, host_ia32_efer, 64, HOST, EFER)			\
	X(HOST_IA32_PERF_GLOBAL_CTRL, host_ia32_perf_global_ctrl, 64, HOST, PERF_GLOBAL_CTRL) \
	X(HOST_IA32_PKRS, host_ia32_pkrs, 64, HOST, PKRS)			\
	X(HOST_IA32_FRED_CONFIG, host_ia32_fred_config, 64, HOST, FRED)		\
	X(HOST_IA32_FRED_RSP1, host_ia32_fred_rsp1, 64, HOST, FRED)		\
	X(HOST_IA32_FRED_RSP2, host_ia32_fred_rsp2, 64, HOST, FRED)		\
	X(HOST_IA32_FRED_RSP3, host_ia32_fred_rsp3, 64, HOST, FRED)		\
	X(HOST_IA32_FRED_STKLVLS, host_ia32_fred_stklvls, 64, HOST, FRED)	\
	X(HOST_IA32_FRED_SSP1, host_ia32_fred_ssp1, 64, HOST, FRED)		\
	X(HOST_IA32_FRED_SSP2, host_ia32_fred_ssp2, 64, HOST, FRED)		\
	X(HOST_IA32_FRED_SSP3, host_ia32_fred_ssp3, 64, HOST, FRED)		\
	/* B.3.1 32-bit control fields */					\
	X(PIN_BASED_CTLS, pin_based_ctls, 32, CONTROL, NONE)			\
	X(PROC_BASED_CTLS, proc_based_ctls, 32, CONTROL, NONE)			\
	X(EXCEPTION_BITMAP, exception_bitmap, 32, CONTROL, NONE)		\
	X(PF_ERROR_CODE_MASK, pf_error_code_mask, 32, CONTROL, NONE)		\
	X(PF_ERROR_CODE_MATCH, pf_error_code_match, 32, CONTROL, NONE)		\
	X(CR3_TARGET_COUNT, cr3_target_count, 32, CONTROL, NONE)		\
	X(EXIT_CTLS, exit_ctls, 32, CONTROL, NONE)				\
	X(EXIT_MSR_STORE_COUNT, exit_msr_store_count, 32, CONTROL, NONE)	\
	X(EXIT_MSR_LOAD_COUNT, exit_msr_load_count, 32, CONTROL, NONE)		\
	X(ENTRY_CTLS, entry_ctls, 32, CONTROL, NONE)				\
	X(ENTRY_MSR_LOAD_COUNT, entry_msr_load_count, 32, CONTROL, NONE)	\
	X(ENTRY_INTR_INFO, entry_intr_info, 32, CONTROL, NONE)			\
	X(ENTRY_EXCEPTION_ERROR_CODE, entry_exception_error_code, 32, CONTROL, NONE) \
	X(ENTRY_INSTRUCTION_LEN, entry_instruction_len, 32, CONTROL, NONE)	\
	X(TPR_THRESHOLD, tpr_threshold, 32, CONTROL, TPR_SHADOW)		\
	X(PROC_BASED_CTLS2, proc_based_ctls2, 32, CONTROL, SECONDARY)		\
	X(PLE_GAP, ple_gap, 32, CONTROL, PLE)					\
	X(PLE_WINDOW, ple_window, 32, CONTROL, PLE)				\
	X(INSTRUCTION_TIMEOUT_CONTROL, instruction_timeout_control, 32, CONTROL, INSTRUCTION_TIMEOUT) \
	/* B.3.2 32-bit read-only data fields */				\
	X(VM_INSTRUCTION_ERROR, vm_instruction_error, 32, EXIT_INFO, NONE)	\
	X(EXIT_REASON, exit_reason, 32, EXIT_INFO, NONE)			\
	X(EXIT_INTR_INFO, exit_intr_info, 32, EXIT_INFO, NONE)			\
	X(EXIT_INTR_ERROR_CODE, exit_intr_error_code, 32, EXIT_INFO, NONE)	\
	X(IDT_VECTORING_INFO, idt_vectoring_info, 32, EXIT_INFO, NONE)		\
	X(IDT_VECTORING_ERROR_CODE, idt_vectoring_error_code, 32, EXIT_INFO, NONE) \
	X(EXIT_INSTRUCTION_LEN, exit_instruction_len, 32, EXIT_INFO, NONE)	\
	X(EXIT_INSTRUCTION_INFO, exit_instruction_info, 32, EXIT_INFO, NONE)	\
	/* B.3.3 32-bit guest-state fields */					\
	X(GUEST_ES_LIMIT, guest_es_limit, 32, GUEST, NONE)			\
	X(GUEST_CS_LIMIT, guest_cs_limit, 32, GUEST, NONE)			\
	X(GUEST_SS_LIMIT, guest_ss_limit, 32, GUEST, NONE)			\
	X(GUEST_DS_LIMIT, guest_ds_limit, 32, GUEST, NONE)			\
	X(GUEST_FS_LIMIT, guest_fs_limit, 32, GUEST, NONE)			\
	X(GUEST_GS_LIMIT, guest_gs_limit, 32, GUEST, NONE)			\
	X(GUEST_LDTR_LIMIT, guest_ldtr_limit, 32, GUEST, NONE)			\
	X(GUEST_TR_LIMIT, guest_tr_limit, 32, GUEST, NONE)			\
	X(GUEST_GDTR_LIMIT, guest_gdtr_limit, 32, GUEST, NONE)			\
	X(GUEST_IDTR_LIMIT, guest_idtr_limit, 32, GUEST, NONE)			\
	X(GUEST_ES_AR_BYTES, guest_es_ar_bytes, 32, GUEST, NONE)		\
	X(GUEST_CS_AR_BYTES, guest_cs_ar_bytes, 32, GUEST, NONE)		\
	X(GUEST_SS_AR_BYTES, guest_ss_ar_bytes, 32, GUEST, NONE)		\
	X(GUEST_DS_AR_BYTES, guest_ds_ar_bytes, 32, GUEST, NONE)		\
	X(GUEST_FS_AR_BYTES, guest_fs_ar_bytes, 32, GUEST, NONE)		\
	X(GUEST_GS_AR_BYTES, guest_gs_ar_bytes, 32, GUEST, NONE)		\
	X(GUEST_LDTR_AR_BYTES, guest_ldtr_ar_bytes, 32, GUEST, NONE)		\
	X(GUEST_TR_AR_BYTES, guest_tr_ar_bytes, 32, GUEST, NONE)		\
	X(GUEST_INTERRUPTIBILITY, guest_interruptibility, 32, GUEST, NONE)	\
	X(GUEST_ACTIVITY_STATE, guest_activity_state, 32, GUEST, NONE)		\
	X(GUEST_SMBASE, guest_smbase, 32, GUEST, NONE)				\
	X(GUEST_IA32_SYSENTER_CS, guest_ia32_sysenter_cs, 32, GUEST, NONE)	\
	X(PREEMPTION_TIMER_VALUE, preemption_timer_value, 32, GUEST, PREEMPTION_TIMER) \
	/* B.3.4 32-bit host-state field */					\
	X(HOST_IA32_SYSENTER_CS, host_ia32_sysenter_cs, 32, HOST, NONE)		\
	/* B.4.1 natural-width control fields */				\
	X(CR0_GUEST_HOST_MASK, cr0_guest_host_mask, NATURAL, CONTROL, NONE)	\
	X(CR4_GUEST_HOST_MASK, cr4_guest_host_mask, NATURAL, CONTROL, NONE)	\
	X(CR0_READ_SHADOW, cr0_read_shadow, NATURAL, CONTROL, NONE)		\
	X(CR4_READ_SHADOW, cr4_read_shadow, NATURAL, CONTROL, NONE)		\
	X(CR3_TARGET_VALUE0, cr3_target_value0, NATURAL, CONTROL, NONE)		\
	X(CR3_TARGET_VALUE1, cr3_target_value1, NATURAL, CONTROL, NONE)		\
	X(CR3_TARGET_VALUE2, cr3_target_value2, NATURAL, CONTROL, NONE)		\
	X(CR3_TARGET_VALUE3, cr3_target_value3, NATURAL, CONTROL, NONE)		\
	/* B.4.2 natural-width read-only data fields */				\
	X(EXIT_QUALIFICATION, exit_qualification, NATURAL, EXIT_INFO, NONE)	\
	X(IO_RCX, io_rcx, NATURAL, EXIT_INFO, NONE)				\
	X(IO_RSI, io_rsi, NATURAL, EXIT_INFO, NONE)				\
	X(IO_RDI, io_rdi, NATURAL, EXIT_INFO, NONE)				\
	X(IO_RIP, io_rip, NATURAL, EXIT_INFO, NONE)				\
	X(GUEST_LINEAR_ADDRESS, guest_linear_address, NATURAL, EXIT_INFO, NONE)	\
	/* B.4.3 natural-width guest-state fields */				\
	X(GUEST_CR0, guest_cr0, NATURAL, GUEST, NONE)				\
	X(GUEST_CR3, guest_cr3, NATURAL, GUEST, NONE)				\
	X(GUEST_CR4, guest_cr4, NATURAL, GUEST, NONE)				\
	X(GUEST_ES_BASE, guest_es_base, NATURAL, GUEST, NONE)			\
	X(GUEST_CS_BASE, guest_cs_base, NATURAL, GUEST, NONE)			\
	X(GUEST_SS_BASE, guest_ss_base, NATURAL, GUEST, NONE)			\
	X(GUEST_DS_BASE, guest_ds_base, NATURAL, GUEST, NONE)			\
	X(GUEST_FS_BASE, guest_fs_base, NATURAL, GUEST, NONE)			\
	X(GUEST_GS_BASE, guest_gs_base, NATURAL, GUEST, NONE)			\
	X(GUEST_LDTR_BASE, guest_ldtr_base, NATURAL, GUEST, NONE)		\
	X(GUEST_TR_BASE, guest_tr_base, NATURAL, GUEST, NONE)			\
	X(GUEST_GDTR_BASE, guest_gdtr_base, NATURAL, GUEST, NONE)		\
	X(GUEST_IDTR_BASE, guest_idtr_base, NATURAL, GUEST, NONE)		\
	X(GUEST_DR7, guest_dr7, NATURAL, GUEST, NONE)				\
	X(GUEST_RSP, guest_rsp, NATURAL, GUEST, NONE)				\
	X(GUEST_RIP, guest_rip, NATURAL, GUEST, NONE)				\
	X(GUEST_RFLAGS, guest_rflags, NATURAL, GUEST, NONE)			\
	X(GUEST_PENDING_DBG_EXCEPTIONS, guest_pending_dbg_exceptions, NATURAL, GUEST, NONE) \
	X(GUEST_SYSENTER_ESP, guest_sysenter_esp, NATURAL, GUEST, NONE)		\
	X(GUEST_SYSENTER_EIP, guest_sysenter_eip, NATURAL, GUEST, NONE)		\
	X(GUEST_S_CET, guest_s_cet, NATURAL, GUEST, CET)			\
	X(GUEST_SSP, guest_ssp, NATURAL, GUEST, CET)				\
	X(GUEST_INTR_SSP_TABLE_ADDR, guest_intr_ssp_table_addr, NATURAL, GUEST, CET) \
	/* B.4.4 natural-width host-state fields */				\
	X(HOST_CR0, host_cr0, NATURAL, HOST, NONE)				\
	X(HOST_CR3, host_cr3, NATURAL, HOST, NONE)				\
	X(HOST_CR4, host_cr4, NATURAL, HOST, NONE)				\
	X(HOST_FS_BASE, host_fs_base, NATURAL, HOST, NONE)			\
	X(HOST_GS_BASE, host_gs_base, NATURAL, HOST, NONE)			\
	X(HOST_TR_BASE, host_tr_base, NATURAL, HOST, NONE)			\
	X(HOST_GDTR_BASE, host_gdtr_base, NATURAL, HOST, NONE)			\
	X(HOST_IDTR_BASE, host_idtr_base, NATURAL, HOST, NONE)			\
	X(HOST_IA32_SYSENTER_ESP, host_ia32_sysenter_esp, NATURAL, HOST, NONE)	\
	X(HOST_IA32_SYSENTER_EIP, host_ia32_sysenter_eip, NATURAL, HOST, NONE)	\
	X(HOST_RSP, host_rsp, NATURAL, HOST, NONE)				\
	X(HOST_RIP, host_rip, NATURAL, HOST, NONE)				\
	X(HOST_S_CET, host_s_cet, NATURAL, HOST, CET)				\
	X(HOST_SSP, host_ssp, NATURAL, HOST, CET)				\
	X(HOST_INTR_SSP_TABLE_ADDR, host_intr_ssp_table_addr, NATURAL, HOST, CET)

/* Slots of struct vmcs: VMCS_SLOT_GUEST_RIP etc., in table order. */
enum vmcs_slot {
#define VMCS_X_SLOT(n, s, w, t, f) VMCS_SLOT_##n,
	VMCS_FIELD_LIST(VMCS_X_SLOT)
#undef VMCS_X_SLOT
	VMCS_SLOT_COUNT
};

#define VMCS_NSLOTS ((unsigned)VMCS_SLOT_COUNT)

/* The simulator's cached copy of one VMCS, each field zero-extended in
 * its slot. */
struct vmcs {
	uint64_t v[VMCS_NSLOTS];
};

struct vmcs_field {
	uint32_t encoding;	/* the full-width encoding (access type 0) */
	uint16_t slot;		/* index into struct vmcs's value array */
	uint8_t width, type;	/* enum vmcs_width, enum vmcs_type */
	uint32_t feature;	/* VMCS_FEAT_* the field exists with; 0 = always */
	const char *name;	/* "guest_rip": lower snake case, used in traces and stats */
};

/* The in-memory VMCS region, our format (SDM Vol. 3C 25.2 "Format of the
 * VMCS Region" leaves all but the first 8 bytes implementation specific):
 * revision identifier (bit 31: shadow-VMCS indicator), VMX-abort
 * indicator, our launch-state byte, then the slots as 8-byte little-endian
 * values. */
#define VMCS_REGION_REVISION	0
#define VMCS_REGION_ABORT	4
#define VMCS_REGION_LAUNCH	8	/* 0 clear, 1 launched */
#define VMCS_REGION_DATA	16
#define VMCS_REGION_SIZE	4096

static inline uint32_t vmcs_slot_offset(unsigned slot)
{
	return VMCS_REGION_DATA + 8 * slot;
}

_Static_assert(VMCS_REGION_DATA + 8 * VMCS_NSLOTS <= VMCS_REGION_SIZE,
	       "the VMCS data fits one 4-KByte region");

/* The field a VMREAD/VMWRITE encoding names, including the high access
 * of a 64-bit field; NULL for an encoding with reserved bits set (31:15,
 * 12), a high access to a field that is not 64-bit, or an unused index.
 * Constant time.  Whether the CPU offers the field is the caller's
 * question (vmcs_field_offered()). */
const struct vmcs_field *vmcs_field_find(uint32_t encoding);

/* The table in encoding order: i < vmcs_field_count(), else NULL. */
size_t vmcs_field_count(void);
const struct vmcs_field *vmcs_field_at(size_t i);

static inline int vmcs_field_offered(const struct vmcs_field *f, uint64_t feature_mask)
{
	return f->feature == VMCS_FEAT_NONE || (feature_mask >> f->feature) & 1;
}

/* VMREAD: the field zero-extended from its width; for the high access
 * (encoding bit 0 set) of a 64-bit field, its bits 63:32 in bits 31:0.
 * `encoding` is the one f was found by. */
uint64_t vmcs_read_field(const struct vmcs *v, const struct vmcs_field *f, uint32_t encoding);

/* VMWRITE: value truncated to the field's width; the high access writes
 * bits 63:32 from bits 31:0 of value and keeps bits 31:0. */
void vmcs_write_field(struct vmcs *v, const struct vmcs_field *f, uint32_t encoding, uint64_t value);

/* Highest index (encoding bits 9:1) of any field in the table, for
 * IA32_VMX_VMCS_ENUM bits 9:1 of a CPU offering every field. */
unsigned vmcs_highest_index(void);

/* "cpuid", "ept_violation", ...; NULL for an undefined basic reason. */
const char *vmcs_exit_reason_name(unsigned basic_reason);

/* Lower-case name of the field an encoding names (the high access shares
 * its field's name); NULL if vmcs_field_find() finds none. */
const char *vmcs_field_name(uint32_t encoding);

/* Simulator code's access by full encoding.  An unknown encoding is a
 * bug in hvsim, never a guest's doing (guest VMREAD/VMWRITE go through
 * vmcs_field_find()), so it stops hvsim with a message. */
_Noreturn void vmcs_bad_encoding(uint32_t encoding);

/* Slot of a full encoding through vmcs_field_find(). */
unsigned vmcs_slot_lookup(uint32_t encoding);

/* Slot of a full encoding: a constant for a constant encoding (the switch
 * folds once inlined), one index load otherwise. */
static inline __attribute__((always_inline)) unsigned vmcs_slot(uint32_t encoding)
{
	if (!__builtin_constant_p(encoding))
		return vmcs_slot_lookup(encoding);
	switch (encoding) {
#define VMCS_X_CASE(n, s, w, t, f) case VMCS_##n: return VMCS_SLOT_##n;
	VMCS_FIELD_LIST(VMCS_X_CASE)
#undef VMCS_X_CASE
	default:
		vmcs_bad_encoding(encoding);
	}
}

static inline uint64_t vmcs_width_mask(unsigned width)
{
	switch (width) {
	case VMCS_WIDTH_16:
		return 0xffffull;
	case VMCS_WIDTH_32:
		return 0xffffffffull;
	default:	/* 64-bit and natural width (64 bits on Intel 64) */
		return ~0ull;
	}
}

static inline uint64_t vmcs_get(const struct vmcs *v, uint32_t encoding)
{
	return v->v[vmcs_slot(encoding)];
}

static inline void vmcs_set(struct vmcs *v, uint32_t encoding, uint64_t value)
{
	v->v[vmcs_slot(encoding)] = value & vmcs_width_mask(VMCS_ENC_WIDTH(encoding));
}

#endif
