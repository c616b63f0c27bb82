/* VMX architecture: MSRs, VM-execution/exit/entry controls, VMCS field
 * encodings, exit reasons, VM-instruction errors and the layouts of the
 * VM-exit information fields (Intel SDM Vol. 3C chapters 24-31 and
 * Vol. 3D appendices A-C; section numbers follow the editions that put
 * "Virtual Machine Control Structures" in chapter 25).
 *
 * Shared by the simulator (sim/cpu/vmcs.h builds its field table from the
 * VMCS_* encodings here) and by freestanding firmware and guest tests, so
 * it depends on <stdint.h> only and holds nothing but integer constants
 * and field-extraction macros.
 *
 * Control-word bits of 32-bit controls are unsigned int constants; bits of
 * 64-bit controls, MSRs and 64-bit fields are unsigned long long. */
#ifndef HV_VMX_H
#define HV_VMX_H

#include <stdint.h>

/* ---- MSRs (SDM Vol. 3C 24.7 "Enabling and Entering VMX Operation";
 * Vol. 3D Appendix A "VMX Capability Reporting Facility") ---- */

#define MSR_IA32_FEATURE_CONTROL	0x0000003a
#define FEATURE_CONTROL_LOCKED			(1ull << 0)
#define FEATURE_CONTROL_VMXON_INSIDE_SMX	(1ull << 1)
#define FEATURE_CONTROL_VMXON_OUTSIDE_SMX	(1ull << 2)

#define MSR_IA32_VMX_BASIC		0x00000480
#define MSR_IA32_VMX_PINBASED_CTLS	0x00000481
#define MSR_IA32_VMX_PROCBASED_CTLS	0x00000482
#define MSR_IA32_VMX_EXIT_CTLS		0x00000483
#define MSR_IA32_VMX_ENTRY_CTLS		0x00000484
#define MSR_IA32_VMX_MISC		0x00000485
#define MSR_IA32_VMX_CR0_FIXED0		0x00000486
#define MSR_IA32_VMX_CR0_FIXED1		0x00000487
#define MSR_IA32_VMX_CR4_FIXED0		0x00000488
#define MSR_IA32_VMX_CR4_FIXED1		0x00000489
#define MSR_IA32_VMX_VMCS_ENUM		0x0000048a
#define MSR_IA32_VMX_PROCBASED_CTLS2	0x0000048b
#define MSR_IA32_VMX_EPT_VPID_CAP	0x0000048c
#define MSR_IA32_VMX_TRUE_PINBASED_CTLS	0x0000048d
#define MSR_IA32_VMX_TRUE_PROCBASED_CTLS 0x0000048e
#define MSR_IA32_VMX_TRUE_EXIT_CTLS	0x0000048f
#define MSR_IA32_VMX_TRUE_ENTRY_CTLS	0x00000490
#define MSR_IA32_VMX_VMFUNC		0x00000491
#define MSR_IA32_VMX_PROCBASED_CTLS3	0x00000492	/* allowed-1 of the tertiary controls */
#define MSR_IA32_VMX_EXIT_CTLS2		0x00000493	/* allowed-1 of the secondary exit controls */

/* IA32_VMX_BASIC (SDM Vol. 3D A.1 "Basic VMX Information"). */
#define VMX_BASIC_REVISION_MASK		0x7fffffffull	/* bits 30:0: VMCS revision identifier */
#define VMX_BASIC_VMCS_SIZE_SHIFT	32		/* bits 44:32: bytes of a VMCS region (<= 4096) */
#define VMX_BASIC_VMCS_SIZE_MASK	(0x1fffull << 32)
#define VMX_BASIC_32BIT_PHYS_ADDR_ONLY	(1ull << 48)	/* VMXON/VMCS/bitmap addresses limited to 32 bits */
#define VMX_BASIC_DUAL_MONITOR		(1ull << 49)	/* dual-monitor treatment of SMIs and SMM */
#define VMX_BASIC_MEMTYPE_SHIFT		50		/* bits 53:50: memory type for VMCS accesses */
#define VMX_BASIC_MEMTYPE_MASK		(0xfull << 50)
#define VMX_BASIC_MEMTYPE_UC		0
#define VMX_BASIC_MEMTYPE_WB		6
#define VMX_BASIC_INOUT			(1ull << 54)	/* instruction information reported for INS/OUTS exits */
#define VMX_BASIC_TRUE_CTLS		(1ull << 55)	/* IA32_VMX_TRUE_*_CTLS exist; default1 bits may be 0 */
#define VMX_BASIC_NO_HW_ERRCODE_CHECK	(1ull << 56)	/* hardware exceptions injectable with or without error code */
#define VMX_BASIC_NESTED_EXCEPTION	(1ull << 58)	/* "nested exception" bit 13 of event information (FRED) */

/* IA32_VMX_MISC (SDM Vol. 3D A.6 "Miscellaneous Data"). */
#define VMX_MISC_PREEMPTION_TIMER_RATE_MASK 0x1full	/* bits 4:0: timer ticks every 2^n TSC ticks */
#define VMX_MISC_SAVE_EFER_LMA		(1ull << 5)	/* VM exits store EFER.LMA in "IA-32e mode guest" */
#define VMX_MISC_ACTIVITY_HLT		(1ull << 6)
#define VMX_MISC_ACTIVITY_SHUTDOWN	(1ull << 7)
#define VMX_MISC_ACTIVITY_WAIT_SIPI	(1ull << 8)
#define VMX_MISC_PT_IN_VMX		(1ull << 14)	/* Intel PT usable in VMX operation */
#define VMX_MISC_RDMSR_SMBASE_IN_SMM	(1ull << 15)
#define VMX_MISC_CR3_TARGET_SHIFT	16		/* bits 24:16: number of CR3-target values */
#define VMX_MISC_CR3_TARGET_MASK	(0x1ffull << 16)
#define VMX_MISC_MAX_MSR_SHIFT		25		/* bits 27:25: N, lists up to 512 * (N + 1) */
#define VMX_MISC_MAX_MSR_MASK		(0x7ull << 25)
#define VMX_MISC_SMM_MONITOR_CTL_B2	(1ull << 28)	/* IA32_SMM_MONITOR_CTL bit 2 may be set */
#define VMX_MISC_VMWRITE_ANY_FIELD	(1ull << 29)	/* VMWRITE may write VM-exit information fields */
#define VMX_MISC_ZERO_LEN_INJECT	(1ull << 30)	/* software events injectable with length 0 */
#define VMX_MISC_MSEG_REV_SHIFT		32		/* bits 63:32: MSEG revision identifier */

/* IA32_VMX_VMCS_ENUM (SDM Vol. 3D A.9 "VMCS Enumeration"). */
#define VMX_VMCS_ENUM_INDEX_SHIFT	1		/* bits 9:1: highest index of any encoding */
#define VMX_VMCS_ENUM_INDEX_MASK	(0x1ffull << 1)

/* IA32_VMX_EPT_VPID_CAP (SDM Vol. 3D A.10 "VPID and EPT Capabilities"). */
#define EPT_VPID_CAP_EXEC_ONLY		(1ull << 0)	/* execute-only EPT entries */
#define EPT_VPID_CAP_PWL4		(1ull << 6)	/* page-walk length 4 */
#define EPT_VPID_CAP_PWL5		(1ull << 7)	/* page-walk length 5 */
#define EPT_VPID_CAP_UC			(1ull << 8)	/* EPTP memory type UC */
#define EPT_VPID_CAP_WB			(1ull << 14)	/* EPTP memory type WB */
#define EPT_VPID_CAP_2MB		(1ull << 16)	/* PDE may map a 2-MByte page */
#define EPT_VPID_CAP_1GB		(1ull << 17)	/* PDPTE may map a 1-GByte page */
#define EPT_VPID_CAP_INVEPT		(1ull << 20)
#define EPT_VPID_CAP_AD			(1ull << 21)	/* accessed and dirty flags for EPT */
#define EPT_VPID_CAP_ADVANCED_EXIT_INFO	(1ull << 22)	/* EPT-violation qualification bits 9-11 */
#define EPT_VPID_CAP_SSS		(1ull << 23)	/* supervisor shadow-stack control */
#define EPT_VPID_CAP_INVEPT_SINGLE	(1ull << 25)	/* single-context INVEPT */
#define EPT_VPID_CAP_INVEPT_ALL		(1ull << 26)	/* all-context INVEPT */
#define EPT_VPID_CAP_INVVPID		(1ull << 32)
#define EPT_VPID_CAP_INVVPID_ADDR	(1ull << 40)	/* individual-address INVVPID */
#define EPT_VPID_CAP_INVVPID_SINGLE	(1ull << 41)	/* single-context INVVPID */
#define EPT_VPID_CAP_INVVPID_ALL	(1ull << 42)	/* all-context INVVPID */
#define EPT_VPID_CAP_INVVPID_SINGLE_GLOBALS (1ull << 43) /* single-context, retaining globals */
#define EPT_VPID_CAP_HLAT_PREFIX_SHIFT	48		/* bits 53:48: maximum HLAT prefix size */
#define EPT_VPID_CAP_HLAT_PREFIX_MASK	(0x3full << 48)

/* IA32_VMX_VMFUNC and the VM-function controls (SDM Vol. 3D A.11,
 * Vol. 3C 25.6.14 "VM-Function Controls"). */
#define VMFUNC_EPTP_SWITCHING		(1ull << 0)	/* VM function 0 */
#define VMFUNC_EPTP_ENTRIES		512		/* EPTPs in the EPTP list */

/* ---- VM-execution controls (SDM Vol. 3C 25.6.1, 25.6.2) ---- */

/* Pin-based VM-execution controls (25.6.1). */
#define PIN_BASED_EXT_INTR_EXITING	(1u << 0)
#define PIN_BASED_NMI_EXITING		(1u << 3)
#define PIN_BASED_VIRTUAL_NMIS		(1u << 5)
#define PIN_BASED_PREEMPTION_TIMER	(1u << 6)	/* activate VMX-preemption timer */
#define PIN_BASED_POSTED_INTR		(1u << 7)	/* process posted interrupts */

/* Primary processor-based VM-execution controls (25.6.2). */
#define CPU_BASED_INTR_WINDOW_EXITING	(1u << 2)
#define CPU_BASED_TSC_OFFSETTING	(1u << 3)
#define CPU_BASED_HLT_EXITING		(1u << 7)
#define CPU_BASED_INVLPG_EXITING	(1u << 9)
#define CPU_BASED_MWAIT_EXITING		(1u << 10)
#define CPU_BASED_RDPMC_EXITING		(1u << 11)
#define CPU_BASED_RDTSC_EXITING		(1u << 12)
#define CPU_BASED_CR3_LOAD_EXITING	(1u << 15)
#define CPU_BASED_CR3_STORE_EXITING	(1u << 16)
#define CPU_BASED_ACTIVATE_TERTIARY_CONTROLS (1u << 17)
#define CPU_BASED_CR8_LOAD_EXITING	(1u << 19)
#define CPU_BASED_CR8_STORE_EXITING	(1u << 20)
#define CPU_BASED_TPR_SHADOW		(1u << 21)
#define CPU_BASED_NMI_WINDOW_EXITING	(1u << 22)
#define CPU_BASED_MOV_DR_EXITING	(1u << 23)
#define CPU_BASED_UNCOND_IO_EXITING	(1u << 24)
#define CPU_BASED_USE_IO_BITMAPS	(1u << 25)
#define CPU_BASED_MONITOR_TRAP_FLAG	(1u << 27)
#define CPU_BASED_USE_MSR_BITMAPS	(1u << 28)
#define CPU_BASED_MONITOR_EXITING	(1u << 29)
#define CPU_BASED_PAUSE_EXITING		(1u << 30)
#define CPU_BASED_ACTIVATE_SECONDARY_CONTROLS (1u << 31)

/* Secondary processor-based VM-execution controls (25.6.2). */
#define SECONDARY_VIRTUALIZE_APIC_ACCESSES (1u << 0)
#define SECONDARY_ENABLE_EPT		(1u << 1)
#define SECONDARY_DESC_TABLE_EXITING	(1u << 2)
#define SECONDARY_ENABLE_RDTSCP		(1u << 3)
#define SECONDARY_VIRTUALIZE_X2APIC	(1u << 4)
#define SECONDARY_ENABLE_VPID		(1u << 5)
#define SECONDARY_WBINVD_EXITING	(1u << 6)
#define SECONDARY_UNRESTRICTED_GUEST	(1u << 7)
#define SECONDARY_APIC_REGISTER_VIRT	(1u << 8)
#define SECONDARY_VIRTUAL_INTR_DELIVERY	(1u << 9)
#define SECONDARY_PAUSE_LOOP_EXITING	(1u << 10)
#define SECONDARY_RDRAND_EXITING	(1u << 11)
#define SECONDARY_ENABLE_INVPCID	(1u << 12)
#define SECONDARY_ENABLE_VMFUNC		(1u << 13)
#define SECONDARY_VMCS_SHADOWING	(1u << 14)
#define SECONDARY_ENCLS_EXITING		(1u << 15)
#define SECONDARY_RDSEED_EXITING	(1u << 16)
#define SECONDARY_ENABLE_PML		(1u << 17)
#define SECONDARY_EPT_VE		(1u << 18)	/* EPT-violation #VE */
#define SECONDARY_CONCEAL_FROM_PT	(1u << 19)	/* conceal VMX from Intel PT */
#define SECONDARY_ENABLE_XSAVES		(1u << 20)
#define SECONDARY_PASID_TRANSLATION	(1u << 21)
#define SECONDARY_MODE_BASED_EPT_EXEC	(1u << 22)
#define SECONDARY_SPP			(1u << 23)	/* sub-page write permissions for EPT */
#define SECONDARY_PT_USE_GPA		(1u << 24)	/* Intel PT uses guest-physical addresses */
#define SECONDARY_TSC_SCALING		(1u << 25)
#define SECONDARY_USER_WAIT_PAUSE	(1u << 26)	/* enable UMONITOR/UMWAIT/TPAUSE */
#define SECONDARY_ENABLE_PCONFIG	(1u << 27)
#define SECONDARY_ENCLV_EXITING		(1u << 28)
#define SECONDARY_BUS_LOCK_DETECTION	(1u << 30)	/* VMM bus-lock detection */
#define SECONDARY_INSTRUCTION_TIMEOUT	(1u << 31)

/* Tertiary processor-based VM-execution controls, a 64-bit field (25.6.2). */
#define TERTIARY_LOADIWKEY_EXITING	(1ull << 0)
#define TERTIARY_ENABLE_HLAT		(1ull << 1)
#define TERTIARY_EPT_PAGING_WRITE	(1ull << 2)
#define TERTIARY_GUEST_PAGING_VERIFY	(1ull << 3)
#define TERTIARY_IPI_VIRT		(1ull << 4)
#define TERTIARY_VIRT_SPEC_CTRL		(1ull << 7)	/* virtualize IA32_SPEC_CTRL */

/* ---- VM-exit controls (SDM Vol. 3C 25.7.1) ---- */
#define VM_EXIT_SAVE_DEBUG_CONTROLS	(1u << 2)
#define VM_EXIT_HOST_ADDR_SPACE_SIZE	(1u << 9)
#define VM_EXIT_LOAD_PERF_GLOBAL_CTRL	(1u << 12)
#define VM_EXIT_ACK_INTR_ON_EXIT	(1u << 15)
#define VM_EXIT_SAVE_PAT		(1u << 18)
#define VM_EXIT_LOAD_PAT		(1u << 19)
#define VM_EXIT_SAVE_EFER		(1u << 20)
#define VM_EXIT_LOAD_EFER		(1u << 21)
#define VM_EXIT_SAVE_PREEMPTION_TIMER	(1u << 22)
#define VM_EXIT_CLEAR_BNDCFGS		(1u << 23)
#define VM_EXIT_CONCEAL_FROM_PT		(1u << 24)
#define VM_EXIT_CLEAR_RTIT_CTL		(1u << 25)
#define VM_EXIT_CLEAR_LBR_CTL		(1u << 26)
#define VM_EXIT_CLEAR_UINV		(1u << 27)
#define VM_EXIT_LOAD_CET_STATE		(1u << 28)
#define VM_EXIT_LOAD_PKRS		(1u << 29)
#define VM_EXIT_SAVE_PERF_GLOBAL_CTRL	(1u << 30)
#define VM_EXIT_ACTIVATE_SECONDARY_CONTROLS (1u << 31)

/* Secondary VM-exit controls, a 64-bit field (25.7.1). */
#define VM_EXIT2_SAVE_FRED		(1ull << 0)
#define VM_EXIT2_LOAD_FRED		(1ull << 1)

/* ---- VM-entry controls (SDM Vol. 3C 25.8.1) ---- */
#define VM_ENTRY_LOAD_DEBUG_CONTROLS	(1u << 2)
#define VM_ENTRY_IA32E_MODE		(1u << 9)
#define VM_ENTRY_SMM			(1u << 10)
#define VM_ENTRY_DEACT_DUAL_MONITOR	(1u << 11)
#define VM_ENTRY_LOAD_PERF_GLOBAL_CTRL	(1u << 13)
#define VM_ENTRY_LOAD_PAT		(1u << 14)
#define VM_ENTRY_LOAD_EFER		(1u << 15)
#define VM_ENTRY_LOAD_BNDCFGS		(1u << 16)
#define VM_ENTRY_CONCEAL_FROM_PT	(1u << 17)
#define VM_ENTRY_LOAD_RTIT_CTL		(1u << 18)
#define VM_ENTRY_LOAD_UINV		(1u << 19)
#define VM_ENTRY_LOAD_CET_STATE		(1u << 20)
#define VM_ENTRY_LOAD_LBR_CTL		(1u << 21)
#define VM_ENTRY_LOAD_PKRS		(1u << 22)
#define VM_ENTRY_LOAD_FRED		(1u << 23)

/* Default1 classes: the bits reported as must-be-1 by the capability MSRs
 * that are not the TRUE_ ones (SDM Vol. 3D A.2 "Reserved Controls and
 * Default Settings", A.3-A.5).  Pin-based 1, 2, 4; primary 1, 4-6, 8,
 * 13-16, 26; exit 0-8, 10, 11, 13, 14, 16, 17; entry 0-8, 12. */
#define PIN_BASED_DEFAULT1		0x00000016u
#define PROC_BASED_DEFAULT1		0x0401e172u
#define EXIT_DEFAULT1			0x00036dffu
#define ENTRY_DEFAULT1			0x000011ffu

/* ---- VMCS component encoding (SDM Vol. 3C 25.11.2 "VMREAD, VMWRITE,
 * and Encodings of VMCS Fields", table "Structure of VMCS Component
 * Encoding") ---- */
#define VMCS_ENC_ACCESS_HIGH		0x00000001u	/* bit 0: high 32 bits of a 64-bit field */
#define VMCS_ENC_INDEX(e)		(((e) >> 1) & 0x1ffu)	/* bits 9:1 */
#define VMCS_ENC_TYPE(e)		(((e) >> 10) & 3u)	/* bits 11:10: control, exit info, guest, host */
#define VMCS_ENC_WIDTH(e)		(((e) >> 13) & 3u)	/* bits 14:13: 16, 64, 32 bit, natural */
#define VMCS_ENC_RESERVED_MASK		0xffff9000u	/* bits 31:15 and 12 must be 0 */

/* ---- VMCS field encodings (SDM Vol. 3D Appendix B "Field Encoding in
 * VMCS").  64-bit fields are listed by their full (even) encoding; the
 * high access is the encoding | VMCS_ENC_ACCESS_HIGH. ---- */

/* B.1.1 16-bit control fields. */
#define VMCS_VPID			0x00000000
#define VMCS_POSTED_INTR_NV		0x00000002
#define VMCS_EPTP_INDEX			0x00000004
#define VMCS_HLAT_PREFIX_SIZE		0x00000006
#define VMCS_LAST_PID_POINTER_INDEX	0x00000008

/* B.1.2 16-bit guest-state fields. */
#define VMCS_GUEST_ES_SELECTOR		0x00000800
#define VMCS_GUEST_CS_SELECTOR		0x00000802
#define VMCS_GUEST_SS_SELECTOR		0x00000804
#define VMCS_GUEST_DS_SELECTOR		0x00000806
#define VMCS_GUEST_FS_SELECTOR		0x00000808
#define VMCS_GUEST_GS_SELECTOR		0x0000080a
#define VMCS_GUEST_LDTR_SELECTOR	0x0000080c
#define VMCS_GUEST_TR_SELECTOR		0x0000080e
#define VMCS_GUEST_INTR_STATUS		0x00000810
#define VMCS_GUEST_PML_INDEX		0x00000812
#define VMCS_GUEST_UINV			0x00000814

/* B.1.3 16-bit host-state fields. */
#define VMCS_HOST_ES_SELECTOR		0x00000c00
#define VMCS_HOST_CS_SELECTOR		0x00000c02
#define VMCS_HOST_SS_SELECTOR		0x00000c04
#define VMCS_HOST_DS_SELECTOR		0x00000c06
#define VMCS_HOST_FS_SELECTOR		0x00000c08
#define VMCS_HOST_GS_SELECTOR		0x00000c0a
#define VMCS_HOST_TR_SELECTOR		0x00000c0c

/* B.2.1 64-bit control fields. */
#define VMCS_IO_BITMAP_A		0x00002000
#define VMCS_IO_BITMAP_B		0x00002002
#define VMCS_MSR_BITMAP			0x00002004
#define VMCS_EXIT_MSR_STORE_ADDR	0x00002006
#define VMCS_EXIT_MSR_LOAD_ADDR		0x00002008
#define VMCS_ENTRY_MSR_LOAD_ADDR	0x0000200a
#define VMCS_EXECUTIVE_VMCS_PTR		0x0000200c
#define VMCS_PML_ADDRESS		0x0000200e
#define VMCS_TSC_OFFSET			0x00002010
#define VMCS_VIRTUAL_APIC_PAGE_ADDR	0x00002012
#define VMCS_APIC_ACCESS_ADDR		0x00002014
#define VMCS_POSTED_INTR_DESC_ADDR	0x00002016
#define VMCS_VMFUNC_CONTROLS		0x00002018
#define VMCS_EPT_POINTER		0x0000201a
#define VMCS_EOI_EXIT_BITMAP0		0x0000201c
#define VMCS_EOI_EXIT_BITMAP1		0x0000201e
#define VMCS_EOI_EXIT_BITMAP2		0x00002020
#define VMCS_EOI_EXIT_BITMAP3		0x00002022
#define VMCS_EPTP_LIST_ADDR		0x00002024
#define VMCS_VMREAD_BITMAP		0x00002026
#define VMCS_VMWRITE_BITMAP		0x00002028
#define VMCS_VE_INFO_ADDR		0x0000202a
#define VMCS_XSS_EXIT_BITMAP		0x0000202c
#define VMCS_ENCLS_EXIT_BITMAP		0x0000202e
#define VMCS_SPP_TABLE_POINTER		0x00002030
#define VMCS_TSC_MULTIPLIER		0x00002032
#define VMCS_PROC_BASED_CTLS3		0x00002034	/* tertiary processor-based controls */
#define VMCS_ENCLV_EXIT_BITMAP		0x00002036
#define VMCS_LOW_PASID_DIR_ADDR		0x00002038
#define VMCS_HIGH_PASID_DIR_ADDR	0x0000203a
#define VMCS_PCONFIG_EXIT_BITMAP	0x0000203e
#define VMCS_HLAT_POINTER		0x00002040
#define VMCS_PID_POINTER_TABLE_ADDR	0x00002042
#define VMCS_EXIT_CTLS2			0x00002044	/* secondary VM-exit controls */
#define VMCS_SPEC_CTRL_MASK		0x0000204a
#define VMCS_SPEC_CTRL_SHADOW		0x0000204c
#define VMCS_INJECTED_EVENT_DATA	0x00002052

/* B.2.2 64-bit read-only data fields. */
#define VMCS_GUEST_PHYSICAL_ADDRESS	0x00002400
#define VMCS_ORIGINAL_EVENT_DATA	0x00002404

/* B.2.3 64-bit guest-state fields. */
#define VMCS_LINK_POINTER		0x00002800
#define VMCS_GUEST_IA32_DEBUGCTL	0x00002802
#define VMCS_GUEST_IA32_PAT		0x00002804
#define VMCS_GUEST_IA32_EFER		0x00002806
#define VMCS_GUEST_IA32_PERF_GLOBAL_CTRL 0x00002808
#define VMCS_GUEST_PDPTE0		0x0000280a
#define VMCS_GUEST_PDPTE1		0x0000280c
#define VMCS_GUEST_PDPTE2		0x0000280e
#define VMCS_GUEST_PDPTE3		0x00002810
#define VMCS_GUEST_IA32_BNDCFGS		0x00002812
#define VMCS_GUEST_IA32_RTIT_CTL	0x00002814
#define VMCS_GUEST_IA32_LBR_CTL		0x00002816
#define VMCS_GUEST_IA32_PKRS		0x00002818
#define VMCS_GUEST_IA32_FRED_CONFIG	0x0000281a
#define VMCS_GUEST_IA32_FRED_RSP1	0x0000281c
#define VMCS_GUEST_IA32_FRED_RSP2	0x0000281e
#define VMCS_GUEST_IA32_FRED_RSP3	0x00002820
#define VMCS_GUEST_IA32_FRED_STKLVLS	0x00002822
#define VMCS_GUEST_IA32_FRED_SSP1	0x00002824
#define VMCS_GUEST_IA32_FRED_SSP2	0x00002826
#define VMCS_GUEST_IA32_FRED_SSP3	0x00002828

/* B.2.4 64-bit host-state fields. */
#define VMCS_HOST_IA32_PAT		0x00002c00
#define VMCS_HOST_IA32_EFER		0x00002c02
#define VMCS_HOST_IA32_PERF_GLOBAL_CTRL	0x00002c04
#define VMCS_HOST_IA32_PKRS		0x00002c06
#define VMCS_HOST_IA32_FRED_CONFIG	0x00002c08
#define VMCS_HOST_IA32_FRED_RSP1	0x00002c0a
#define VMCS_HOST_IA32_FRED_RSP2	0x00002c0c
#define VMCS_HOST_IA32_FRED_RSP3	0x00002c0e
#define VMCS_HOST_IA32_FRED_STKLVLS	0x00002c10
#define VMCS_HOST_IA32_FRED_SSP1	0x00002c12
#define VMCS_HOST_IA32_FRED_SSP2	0x00002c14
#define VMCS_HOST_IA32_FRED_SSP3	0x00002c16

/* B.3.1 32-bit control fields. */
#define VMCS_PIN_BASED_CTLS		0x00004000
#define VMCS_PROC_BASED_CTLS		0x00004002
#define VMCS_EXCEPTION_BITMAP		0x00004004
#define VMCS_PF_ERROR_CODE_MASK		0x00004006
#define VMCS_PF_ERROR_CODE_MATCH	0x00004008
#define VMCS_CR3_TARGET_COUNT		0x0000400a
#define VMCS_EXIT_CTLS			0x0000400c
#define VMCS_EXIT_MSR_STORE_COUNT	0x0000400e
#define VMCS_EXIT_MSR_LOAD_COUNT	0x00004010
#define VMCS_ENTRY_CTLS			0x00004012
#define VMCS_ENTRY_MSR_LOAD_COUNT	0x00004014
#define VMCS_ENTRY_INTR_INFO		0x00004016
#define VMCS_ENTRY_EXCEPTION_ERROR_CODE	0x00004018
#define VMCS_ENTRY_INSTRUCTION_LEN	0x0000401a
#define VMCS_TPR_THRESHOLD		0x0000401c
#define VMCS_PROC_BASED_CTLS2		0x0000401e
#define VMCS_PLE_GAP			0x00004020
#define VMCS_PLE_WINDOW			0x00004022
#define VMCS_INSTRUCTION_TIMEOUT_CONTROL 0x00004024

/* B.3.2 32-bit read-only data fields. */
#define VMCS_VM_INSTRUCTION_ERROR	0x00004400
#define VMCS_EXIT_REASON		0x00004402
#define VMCS_EXIT_INTR_INFO		0x00004404
#define VMCS_EXIT_INTR_ERROR_CODE	0x00004406
#define VMCS_IDT_VECTORING_INFO		0x00004408
#define VMCS_IDT_VECTORING_ERROR_CODE	0x0000440a
#define VMCS_EXIT_INSTRUCTION_LEN	0x0000440c
#define VMCS_EXIT_INSTRUCTION_INFO	0x0000440e

/* B.3.3 32-bit guest-state fields. */
#define VMCS_GUEST_ES_LIMIT		0x00004800
#define VMCS_GUEST_CS_LIMIT		0x00004802
#define VMCS_GUEST_SS_LIMIT		0x00004804
#define VMCS_GUEST_DS_LIMIT		0x00004806
#define VMCS_GUEST_FS_LIMIT		0x00004808
#define VMCS_GUEST_GS_LIMIT		0x0000480a
#define VMCS_GUEST_LDTR_LIMIT		0x0000480c
#define VMCS_GUEST_TR_LIMIT		0x0000480e
#define VMCS_GUEST_GDTR_LIMIT		0x00004810
#define VMCS_GUEST_IDTR_LIMIT		0x00004812
#define VMCS_GUEST_ES_AR_BYTES		0x00004814
#define VMCS_GUEST_CS_AR_BYTES		0x00004816
#define VMCS_GUEST_SS_AR_BYTES		0x00004818
#define VMCS_GUEST_DS_AR_BYTES		0x0000481a
#define VMCS_GUEST_FS_AR_BYTES		0x0000481c
#define VMCS_GUEST_GS_AR_BYTES		0x0000481e
#define VMCS_GUEST_LDTR_AR_BYTES	0x00004820
#define VMCS_GUEST_TR_AR_BYTES		0x00004822
#define VMCS_GUEST_INTERRUPTIBILITY	0x00004824
#define VMCS_GUEST_ACTIVITY_STATE	0x00004826
#define VMCS_GUEST_SMBASE		0x00004828
#define VMCS_GUEST_IA32_SYSENTER_CS	0x0000482a
#define VMCS_PREEMPTION_TIMER_VALUE	0x0000482e

/* B.3.4 32-bit host-state field. */
#define VMCS_HOST_IA32_SYSENTER_CS	0x00004c00

/* B.4.1 natural-width control fields. */
#define VMCS_CR0_GUEST_HOST_MASK	0x00006000
#define VMCS_CR4_GUEST_HOST_MASK	0x00006002
#define VMCS_CR0_READ_SHADOW		0x00006004
#define VMCS_CR4_READ_SHADOW		0x00006006
#define VMCS_CR3_TARGET_VALUE0		0x00006008
#define VMCS_CR3_TARGET_VALUE1		0x0000600a
#define VMCS_CR3_TARGET_VALUE2		0x0000600c
#define VMCS_CR3_TARGET_VALUE3		0x0000600e

/* B.4.2 natural-width read-only data fields. */
#define VMCS_EXIT_QUALIFICATION		0x00006400
#define VMCS_IO_RCX			0x00006402
#define VMCS_IO_RSI			0x00006404
#define VMCS_IO_RDI			0x00006406
#define VMCS_IO_RIP			0x00006408
#define VMCS_GUEST_LINEAR_ADDRESS	0x0000640a

/* B.4.3 natural-width guest-state fields. */
#define VMCS_GUEST_CR0			0x00006800
#define VMCS_GUEST_CR3			0x00006802
#define VMCS_GUEST_CR4			0x00006804
#define VMCS_GUEST_ES_BASE		0x00006806
#define VMCS_GUEST_CS_BASE		0x00006808
#define VMCS_GUEST_SS_BASE		0x0000680a
#define VMCS_GUEST_DS_BASE		0x0000680c
#define VMCS_GUEST_FS_BASE		0x0000680e
#define VMCS_GUEST_GS_BASE		0x00006810
#define VMCS_GUEST_LDTR_BASE		0x00006812
#define VMCS_GUEST_TR_BASE		0x00006814
#define VMCS_GUEST_GDTR_BASE		0x00006816
#define VMCS_GUEST_IDTR_BASE		0x00006818
#define VMCS_GUEST_DR7			0x0000681a
#define VMCS_GUEST_RSP			0x0000681c
#define VMCS_GUEST_RIP			0x0000681e
#define VMCS_GUEST_RFLAGS		0x00006820
#define VMCS_GUEST_PENDING_DBG_EXCEPTIONS 0x00006822
#define VMCS_GUEST_SYSENTER_ESP		0x00006824
#define VMCS_GUEST_SYSENTER_EIP		0x00006826
#define VMCS_GUEST_S_CET		0x00006828
#define VMCS_GUEST_SSP			0x0000682a
#define VMCS_GUEST_INTR_SSP_TABLE_ADDR	0x0000682c

/* B.4.4 natural-width host-state fields. */
#define VMCS_HOST_CR0			0x00006c00
#define VMCS_HOST_CR3			0x00006c02
#define VMCS_HOST_CR4			0x00006c04
#define VMCS_HOST_FS_BASE		0x00006c06
#define VMCS_HOST_GS_BASE		0x00006c08
#define VMCS_HOST_TR_BASE		0x00006c0a
#define VMCS_HOST_GDTR_BASE		0x00006c0c
#define VMCS_HOST_IDTR_BASE		0x00006c0e
#define VMCS_HOST_IA32_SYSENTER_ESP	0x00006c10
#define VMCS_HOST_IA32_SYSENTER_EIP	0x00006c12
#define VMCS_HOST_RSP			0x00006c14
#define VMCS_HOST_RIP			0x00006c16
#define VMCS_HOST_S_CET			0x00006c18
#define VMCS_HOST_SSP			0x00006c1a
#define VMCS_HOST_INTR_SSP_TABLE_ADDR	0x00006c1c

/* ---- Exit reason (SDM Vol. 3C 25.9.1 "Basic VM-Exit Information";
 * Vol. 3D Appendix C "VMX Basic Exit Reasons").  Numbers 35, 38, 42, 71,
 * 82 and 83 are not defined. ---- */
#define EXIT_REASON_EXCEPTION_NMI	0
#define EXIT_REASON_EXTERNAL_INTERRUPT	1
#define EXIT_REASON_TRIPLE_FAULT	2
#define EXIT_REASON_INIT_SIGNAL		3
#define EXIT_REASON_SIPI		4
#define EXIT_REASON_IO_SMI		5
#define EXIT_REASON_OTHER_SMI		6
#define EXIT_REASON_INTERRUPT_WINDOW	7
#define EXIT_REASON_NMI_WINDOW		8
#define EXIT_REASON_TASK_SWITCH		9
#define EXIT_REASON_CPUID		10
#define EXIT_REASON_GETSEC		11
#define EXIT_REASON_HLT			12
#define EXIT_REASON_INVD		13
#define EXIT_REASON_INVLPG		14
#define EXIT_REASON_RDPMC		15
#define EXIT_REASON_RDTSC		16
#define EXIT_REASON_RSM			17
#define EXIT_REASON_VMCALL		18
#define EXIT_REASON_VMCLEAR		19
#define EXIT_REASON_VMLAUNCH		20
#define EXIT_REASON_VMPTRLD		21
#define EXIT_REASON_VMPTRST		22
#define EXIT_REASON_VMREAD		23
#define EXIT_REASON_VMRESUME		24
#define EXIT_REASON_VMWRITE		25
#define EXIT_REASON_VMXOFF		26
#define EXIT_REASON_VMXON		27
#define EXIT_REASON_CR_ACCESS		28
#define EXIT_REASON_DR_ACCESS		29
#define EXIT_REASON_IO_INSTRUCTION	30
#define EXIT_REASON_MSR_READ		31
#define EXIT_REASON_MSR_WRITE		32
#define EXIT_REASON_INVALID_GUEST_STATE	33
#define EXIT_REASON_MSR_LOAD_FAIL	34
#define EXIT_REASON_MWAIT		36
#define EXIT_REASON_MONITOR_TRAP_FLAG	37
#define EXIT_REASON_MONITOR		39
#define EXIT_REASON_PAUSE		40
#define EXIT_REASON_MCE_DURING_VMENTRY	41
#define EXIT_REASON_TPR_BELOW_THRESHOLD	43
#define EXIT_REASON_APIC_ACCESS		44
#define EXIT_REASON_EOI_INDUCED		45
#define EXIT_REASON_GDTR_IDTR		46
#define EXIT_REASON_LDTR_TR		47
#define EXIT_REASON_EPT_VIOLATION	48
#define EXIT_REASON_EPT_MISCONFIG	49
#define EXIT_REASON_INVEPT		50
#define EXIT_REASON_RDTSCP		51
#define EXIT_REASON_PREEMPTION_TIMER	52
#define EXIT_REASON_INVVPID		53
#define EXIT_REASON_WBINVD		54	/* WBINVD or WBNOINVD */
#define EXIT_REASON_XSETBV		55
#define EXIT_REASON_APIC_WRITE		56
#define EXIT_REASON_RDRAND		57
#define EXIT_REASON_INVPCID		58
#define EXIT_REASON_VMFUNC		59
#define EXIT_REASON_ENCLS		60
#define EXIT_REASON_RDSEED		61
#define EXIT_REASON_PML_FULL		62
#define EXIT_REASON_XSAVES		63
#define EXIT_REASON_XRSTORS		64
#define EXIT_REASON_PCONFIG		65
#define EXIT_REASON_SPP			66	/* SPP-related event */
#define EXIT_REASON_UMWAIT		67
#define EXIT_REASON_TPAUSE		68
#define EXIT_REASON_LOADIWKEY		69
#define EXIT_REASON_ENCLV		70
#define EXIT_REASON_ENQCMD_PASID	72	/* ENQCMD PASID-translation failure */
#define EXIT_REASON_ENQCMDS_PASID	73	/* ENQCMDS PASID-translation failure */
#define EXIT_REASON_BUS_LOCK		74
#define EXIT_REASON_INSTRUCTION_TIMEOUT	75
#define EXIT_REASON_SEAMCALL		76
#define EXIT_REASON_TDCALL		77
#define EXIT_REASON_RDMSRLIST		78
#define EXIT_REASON_WRMSRLIST		79
#define EXIT_REASON_URDMSR		80
#define EXIT_REASON_UWRMSR		81
#define EXIT_REASON_RDMSR_IMM		84	/* RDMSR with an immediate operand */
#define EXIT_REASON_WRMSRNS_IMM		85	/* WRMSRNS with an immediate operand */
#define EXIT_REASON_MAX			85

/* Bits of the exit-reason field around the basic reason. */
#define EXIT_REASON_BASIC_MASK		0x0000ffffu	/* bits 15:0 */
#define EXIT_REASON_BUS_LOCK_DETECTED	(1u << 26)	/* a bus lock was asserted (bus-lock detection) */
#define EXIT_REASON_ENCLAVE_MODE	(1u << 27)	/* exit from enclave mode */
#define EXIT_REASON_PENDING_MTF		(1u << 28)	/* SMM VM exit: an MTF VM exit was pending */
#define EXIT_REASON_FROM_VMX_ROOT	(1u << 29)	/* SMM VM exit from VMX root operation */
#define EXIT_REASON_FAILED_VMENTRY	(1u << 31)

/* ---- VM-instruction error numbers (SDM Vol. 3C 31.4 "VM Instruction
 * Error Numbers"; 14, 21 and 27 are not used) ---- */
#define VMXERR_VMCALL_IN_VMXROOT		1
#define VMXERR_VMCLEAR_INVALID_ADDRESS		2
#define VMXERR_VMCLEAR_VMXON_POINTER		3
#define VMXERR_VMLAUNCH_NONCLEAR_VMCS		4
#define VMXERR_VMRESUME_NONLAUNCHED_VMCS	5
#define VMXERR_VMRESUME_AFTER_VMXOFF		6
#define VMXERR_ENTRY_INVALID_CONTROL_FIELD	7
#define VMXERR_ENTRY_INVALID_HOST_STATE_FIELD	8
#define VMXERR_VMPTRLD_INVALID_ADDRESS		9
#define VMXERR_VMPTRLD_VMXON_POINTER		10
#define VMXERR_VMPTRLD_INCORRECT_REVISION_ID	11
#define VMXERR_UNSUPPORTED_VMCS_COMPONENT	12
#define VMXERR_VMWRITE_READ_ONLY_COMPONENT	13
#define VMXERR_VMXON_IN_VMXROOT			15
#define VMXERR_ENTRY_INVALID_EXECUTIVE_VMCS_POINTER 16
#define VMXERR_ENTRY_NONLAUNCHED_EXECUTIVE_VMCS	17
#define VMXERR_ENTRY_EXECUTIVE_VMCS_POINTER_NOT_VMXON 18
#define VMXERR_VMCALL_NONCLEAR_VMCS		19
#define VMXERR_VMCALL_INVALID_VM_EXIT_CONTROL_FIELDS 20
#define VMXERR_VMCALL_INCORRECT_MSEG_REVISION_ID 22
#define VMXERR_VMXOFF_UNDER_DUAL_MONITOR	23
#define VMXERR_VMCALL_INVALID_SMM_MONITOR_FEATURES 24
#define VMXERR_ENTRY_INVALID_VM_EXECUTION_CONTROL_FIELDS_IN_EXECUTIVE_VMCS 25
#define VMXERR_ENTRY_EVENTS_BLOCKED_BY_MOV_SS	26
#define VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID 28

/* ---- Event information: VM-entry interruption information, VM-exit
 * interruption information and IDT-vectoring information share one
 * layout (SDM Vol. 3C 25.8.3, 25.9.2, 25.9.3) ---- */
#define INTR_INFO_VECTOR_MASK		0x000000ffu	/* bits 7:0 */
#define INTR_INFO_TYPE_SHIFT		8		/* bits 10:8: INTR_TYPE_* */
#define INTR_INFO_TYPE_MASK		0x00000700u
#define INTR_INFO_TYPE(info)		(((info) >> 8) & 7u)
#define INTR_INFO_DELIVER_CODE		(1u << 11)	/* an error code is pushed / was delivered */
#define INTR_INFO_NMI_UNBLOCKING	(1u << 12)	/* exit info: NMI unblocking due to IRET */
#define INTR_INFO_NESTED_EXCEPTION	(1u << 13)	/* FRED: event nested on another */
#define INTR_INFO_VALID			(1u << 31)

#define INTR_TYPE_EXT_INTR		0	/* external interrupt */
#define INTR_TYPE_NMI			2
#define INTR_TYPE_HARD_EXCEPTION	3	/* hardware exception */
#define INTR_TYPE_SOFT_INTR		4	/* software interrupt (INT n) */
#define INTR_TYPE_PRIV_SW_EXCEPTION	5	/* privileged software exception (INT1) */
#define INTR_TYPE_SOFT_EXCEPTION	6	/* software exception (INT3, INTO) */
#define INTR_TYPE_OTHER_EVENT		7	/* MTF on entry; SYSCALL etc. under FRED */

/* ---- Guest non-register state (SDM Vol. 3C 25.4.2) ---- */

/* Activity state. */
#define GUEST_ACTIVITY_ACTIVE		0
#define GUEST_ACTIVITY_HLT		1
#define GUEST_ACTIVITY_SHUTDOWN		2
#define GUEST_ACTIVITY_WAIT_SIPI	3

/* Interruptibility state. */
#define GUEST_INTR_STATE_STI		(1u << 0)	/* blocking by STI */
#define GUEST_INTR_STATE_MOV_SS		(1u << 1)	/* blocking by MOV SS / POP SS */
#define GUEST_INTR_STATE_SMI		(1u << 2)	/* blocking by SMI */
#define GUEST_INTR_STATE_NMI		(1u << 3)	/* blocking by NMI */
#define GUEST_INTR_STATE_ENCLAVE	(1u << 4)	/* enclave interruption */

/* Pending debug exceptions. */
#define PENDING_DBG_B0			(1ull << 0)
#define PENDING_DBG_B1			(1ull << 1)
#define PENDING_DBG_B2			(1ull << 2)
#define PENDING_DBG_B3			(1ull << 3)
#define PENDING_DBG_BP_MASK		0xfull		/* B3-B0 */
#define PENDING_DBG_ENABLED_BP		(1ull << 12)	/* at least one enabled breakpoint matched */
#define PENDING_DBG_BS			(1ull << 14)	/* single step */
#define PENDING_DBG_RTM			(1ull << 16)	/* debug exception inside an RTM region */

/* Segment access rights (SDM Vol. 3C 25.4.1, table "Format of Access
 * Rights"): descriptor bits 40-47 and 52-55 at bits 7:0 and 15:12. */
#define VMX_AR_TYPE_MASK		0x0000000fu
#define VMX_AR_S			(1u << 4)	/* code/data (1) or system (0) */
#define VMX_AR_DPL_SHIFT		5
#define VMX_AR_DPL_MASK			(3u << 5)
#define VMX_AR_P			(1u << 7)
#define VMX_AR_AVL			(1u << 12)
#define VMX_AR_L			(1u << 13)	/* 64-bit code segment */
#define VMX_AR_DB			(1u << 14)
#define VMX_AR_G			(1u << 15)
#define VMX_AR_UNUSABLE			(1u << 16)	/* segment unusable */
#define VMX_AR_RESERVED_MASK		0xfffe0f00u	/* bits 11:8 and 31:17 */

/* ---- Exit qualifications (SDM Vol. 3C 28.2.1 "Basic VM-Exit
 * Information") ---- */

/* Task switch. */
#define EXIT_QUAL_TS_SELECTOR_MASK	0xffffull	/* bits 15:0: selector of the new TSS */
#define EXIT_QUAL_TS_SOURCE_SHIFT	30		/* bits 31:30 */
#define EXIT_QUAL_TS_SOURCE_MASK	(3ull << 30)
#define EXIT_QUAL_TS_CALL		0
#define EXIT_QUAL_TS_IRET		1
#define EXIT_QUAL_TS_JMP		2
#define EXIT_QUAL_TS_IDT_GATE		3		/* task gate in the IDT */

/* Control-register accesses. */
#define EXIT_QUAL_CR_NUM_MASK		0xfull		/* bits 3:0: control register number */
#define EXIT_QUAL_CR_TYPE_SHIFT		4		/* bits 5:4: access type */
#define EXIT_QUAL_CR_TYPE_MASK		(3ull << 4)
#define EXIT_QUAL_CR_TYPE_MOV_TO_CR	0
#define EXIT_QUAL_CR_TYPE_MOV_FROM_CR	1
#define EXIT_QUAL_CR_TYPE_CLTS		2
#define EXIT_QUAL_CR_TYPE_LMSW		3
#define EXIT_QUAL_CR_LMSW_MEMORY	(1ull << 6)	/* LMSW operand in memory (else a register) */
#define EXIT_QUAL_CR_GPR_SHIFT		8		/* bits 11:8: MOV CR general-purpose register */
#define EXIT_QUAL_CR_GPR_MASK		(0xfull << 8)
#define EXIT_QUAL_CR_LMSW_DATA_SHIFT	16		/* bits 31:16: LMSW source data */
#define EXIT_QUAL_CR_LMSW_DATA_MASK	(0xffffull << 16)

/* MOV DR. */
#define EXIT_QUAL_DR_NUM_MASK		0x7ull		/* bits 2:0: debug register number */
#define EXIT_QUAL_DR_FROM_DR		(1ull << 4)	/* MOV from DR (else MOV to DR) */
#define EXIT_QUAL_DR_GPR_SHIFT		8		/* bits 11:8: general-purpose register */
#define EXIT_QUAL_DR_GPR_MASK		(0xfull << 8)

/* I/O instructions. */
#define EXIT_QUAL_IO_SIZE_MASK		0x7ull		/* bits 2:0: size - 1 (0, 1 or 3) */
#define EXIT_QUAL_IO_IN			(1ull << 3)	/* IN (else OUT) */
#define EXIT_QUAL_IO_STRING		(1ull << 4)
#define EXIT_QUAL_IO_REP		(1ull << 5)
#define EXIT_QUAL_IO_IMMEDIATE		(1ull << 6)	/* port in an immediate (else DX) */
#define EXIT_QUAL_IO_PORT_SHIFT		16		/* bits 31:16: port number */
#define EXIT_QUAL_IO_PORT_MASK		(0xffffull << 16)

/* The virtual-APIC page (SDM 29.1.1): VTPR, the virtual TPR, at 80H. */
#define VAPIC_TPR_OFFSET		0x80
#define MSR_X2APIC_TPR			0x808	/* TPR in x2APIC mode (SDM 10.12.1.2) */

/* APIC-access. */
#define EXIT_QUAL_APIC_OFFSET_MASK	0xfffull	/* bits 11:0: offset on the APIC page */
#define EXIT_QUAL_APIC_TYPE_SHIFT	12		/* bits 15:12: access type */
#define EXIT_QUAL_APIC_TYPE_MASK	(0xfull << 12)
#define EXIT_QUAL_APIC_LINEAR_READ	0
#define EXIT_QUAL_APIC_LINEAR_WRITE	1
#define EXIT_QUAL_APIC_LINEAR_FETCH	2
#define EXIT_QUAL_APIC_LINEAR_EVENT	3	/* during event delivery */
#define EXIT_QUAL_APIC_PHYS_EVENT	10	/* guest-physical, during event delivery */
#define EXIT_QUAL_APIC_PHYS_FETCH	15	/* guest-physical, instruction fetch or execution */

/* EPT violations. */
#define EXIT_QUAL_EPT_READ		(1ull << 0)	/* the access was a data read */
#define EXIT_QUAL_EPT_WRITE		(1ull << 1)	/* a data write */
#define EXIT_QUAL_EPT_FETCH		(1ull << 2)	/* an instruction fetch */
#define EXIT_QUAL_EPT_READABLE		(1ull << 3)	/* the address was readable */
#define EXIT_QUAL_EPT_WRITABLE		(1ull << 4)
#define EXIT_QUAL_EPT_EXECUTABLE	(1ull << 5)	/* supervisor-executable with MBEC */
#define EXIT_QUAL_EPT_USER_EXECUTABLE	(1ull << 6)	/* user-executable, with MBEC only */
#define EXIT_QUAL_EPT_GLA_VALID		(1ull << 7)	/* guest-linear address field valid */
#define EXIT_QUAL_EPT_GLA_TRANSLATED	(1ull << 8)	/* final translation (else a paging-structure access) */
#define EXIT_QUAL_EPT_USER		(1ull << 9)	/* advanced info: user-mode linear address */
#define EXIT_QUAL_EPT_RW		(1ull << 10)	/* advanced info: linear address writable */
#define EXIT_QUAL_EPT_XD		(1ull << 11)	/* advanced info: linear address execute-disable */
#define EXIT_QUAL_EPT_NMI_UNBLOCKING	(1ull << 12)	/* NMI unblocking due to IRET */
#define EXIT_QUAL_EPT_SHADOW_STACK	(1ull << 13)	/* shadow-stack access */
#define EXIT_QUAL_EPT_SSS		(1ull << 14)	/* supervisor shadow-stack page */
#define EXIT_QUAL_EPT_GUEST_PAGING_VERIFY (1ull << 15)	/* guest-paging verification */
#define EXIT_QUAL_EPT_ASYNC		(1ull << 16)	/* asynchronous to instruction execution */

/* VM-entry failure during or after loading guest state (SDM Vol. 3C
 * 27.8 "VM-Entry Failures During or After Loading Guest State"). */
#define EXIT_QUAL_ENTRY_FAIL_DEFAULT	0
#define EXIT_QUAL_ENTRY_FAIL_PDPTE	2	/* loading a PDPTE */
#define EXIT_QUAL_ENTRY_FAIL_NMI	3	/* injection of an NMI blocked by NMI */
#define EXIT_QUAL_ENTRY_FAIL_LINK_PTR	4	/* invalid VMCS link pointer */

/* VM-exit instruction information (SDM Vol. 3C 28.2.5 "Information for VM
 * Exits Due to Instruction Execution").  INVEPT, INVPCID, INVVPID, the VMX
 * instructions and the descriptor-table instructions share this memory
 * operand layout; reg1 is the VMREAD/VMWRITE register operand, reg2 the
 * INVEPT/INVPCID/INVVPID type register. */
#define INSN_INFO_SCALE_MASK		0x00000003u	/* bits 1:0: index scaling 1, 2, 4, 8 */
#define INSN_INFO_REG1_SHIFT		3		/* bits 6:3 */
#define INSN_INFO_REG1_MASK		(0xfu << 3)
#define INSN_INFO_ADDR_SIZE_SHIFT	7		/* bits 9:7: 0 16-bit, 1 32-bit, 2 64-bit */
#define INSN_INFO_ADDR_SIZE_MASK	(7u << 7)
#define INSN_INFO_REG_OPERAND		(1u << 10)	/* operand is a register (else memory) */
#define INSN_INFO_SEG_SHIFT		15		/* bits 17:15: ES CS SS DS FS GS */
#define INSN_INFO_SEG_MASK		(7u << 15)
#define INSN_INFO_INDEX_SHIFT		18		/* bits 21:18 */
#define INSN_INFO_INDEX_MASK		(0xfu << 18)
#define INSN_INFO_INDEX_INVALID		(1u << 22)
#define INSN_INFO_BASE_SHIFT		23		/* bits 26:23 */
#define INSN_INFO_BASE_MASK		(0xfu << 23)
#define INSN_INFO_BASE_INVALID		(1u << 27)
#define INSN_INFO_REG2_SHIFT		28		/* bits 31:28 */
#define INSN_INFO_REG2_MASK		(0xfu << 28)

/* ---- EPT (SDM Vol. 3C 25.6.11 "Extended-Page-Table Pointer (EPTP)",
 * 29.3.2 "EPT Translation Mechanism", 31.3 INVEPT and INVVPID) ---- */

/* EPTP. */
#define EPTP_MEMORY_TYPE_MASK		0x7ull		/* bits 2:0: 0 UC, 6 WB */
#define EPTP_WALK_LENGTH_SHIFT		3		/* bits 5:3: page-walk length - 1 */
#define EPTP_WALK_LENGTH_MASK		(7ull << 3)
#define EPTP_AD_ENABLE			(1ull << 6)	/* accessed and dirty flags */
#define EPTP_SSS_ENABLE			(1ull << 7)	/* supervisor shadow-stack control */

/* EPT paging-structure entries. */
#define EPTE_READ			(1ull << 0)
#define EPTE_WRITE			(1ull << 1)
#define EPTE_EXEC			(1ull << 2)	/* supervisor-mode execute with MBEC */
#define EPTE_MEMTYPE_SHIFT		3		/* bits 5:3 of a leaf: memory type */
#define EPTE_MEMTYPE_MASK		(7ull << 3)
#define EPTE_IGNORE_PAT			(1ull << 6)
#define EPTE_LARGE_PAGE			(1ull << 7)	/* PDPTE / PDE maps a page */
#define EPTE_ACCESSED			(1ull << 8)
#define EPTE_DIRTY			(1ull << 9)	/* leaves only */
#define EPTE_USER_EXEC			(1ull << 10)	/* user-mode execute with MBEC */
#define EPTE_SSS			(1ull << 60)	/* supervisor shadow-stack page */
#define EPTE_SPP			(1ull << 61)	/* sub-page write permissions */
#define EPTE_SUPPRESS_VE		(1ull << 63)

/* INVEPT types. */
#define INVEPT_SINGLE_CONTEXT		1
#define INVEPT_ALL_CONTEXT		2

/* INVVPID types. */
#define INVVPID_INDIVIDUAL_ADDRESS	0
#define INVVPID_SINGLE_CONTEXT		1
#define INVVPID_ALL_CONTEXT		2
#define INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS 3

#endif
