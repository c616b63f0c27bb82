/* The Hyper-V Top-Level Functional Specification (TLFS) ABI as the
 * hypervisor (hv_model/) and the partition kernels (partitions/) use it:
 * status codes, call codes, the hypercall input/result words, synthetic
 * MSRs and CPUID leaves, partition and register constants, and the wire
 * layouts of the hypercall inputs and outputs (x64).
 *
 * Sources, named per block below:
 *   [T]   TLFS (learn.microsoft.com/virtualization/hyper-v-on-windows/tlfs,
 *         MicrosoftDocs/Virtualization-Documentation tlfs/ pages): "Hypercall
 *         Interface", "Feature and Interface Discovery", hypercalls/HvCall*,
 *         datatypes/hv_*; the 2013 MSDN hypervisor reference for details the
 *         current pages dropped ([fast] forms, privileges).
 *   [L]   Linux include/hyperv/hvgdk_mini.h, hvgdk.h, hvhdk_mini.h, hvhdk.h.
 *   [O]   OpenVMM vm/hv1/hvdef/src/lib.rs.
 * Only facts (values, layouts) are taken from them.
 *
 * Shared by freestanding firmware and host code, so it depends on
 * <stdint.h> only.  Wire structures are packed, named after their TLFS type
 * in a trailing comment, and every TLFS-documented size and field offset is
 * checked by a _Static_assert at the end of this file.  Names keep the
 * TLFS/Linux spelling (HV_STATUS_*, HVCALL_*, HV_X64_MSR_*). */
#ifndef HV_TLFS_H
#define HV_TLFS_H

#include <stdint.h>

#define HV_PACKED __attribute__((packed))

/* ---- Pages, partition and VP identifiers [L hvgdk_mini.h][O] ---- */

#define HV_PAGE_SHIFT			12
#define HV_PAGE_SIZE			4096ull	/* same spelling as hv_model/hv.h */
#define HV_LARGE_PAGE_SHIFT		21	/* 2 MiB */

#define HV_PARTITION_ID_INVALID		0ull
#define HV_PARTITION_ID_SELF		(~0ull)	/* "the caller's own partition" */

#define HV_VP_INDEX_SELF		0xfffffffeu
#define HV_ANY_VP			0xffffffffu
#define HV_MAXIMUM_PROCESSORS		2048	/* x64 */

/* ---- HV_STATUS: the 16-bit result of every hypercall ----
 * [L hvgdk_mini.h] for the set REFERENCE.md 2.1 lists; [O HvError] for the
 * other values named here. */

#define HV_STATUS_SUCCESS				0x0000
#define HV_STATUS_INVALID_HYPERCALL_CODE		0x0002
#define HV_STATUS_INVALID_HYPERCALL_INPUT		0x0003
#define HV_STATUS_INVALID_ALIGNMENT			0x0004
#define HV_STATUS_INVALID_PARAMETER			0x0005
#define HV_STATUS_ACCESS_DENIED				0x0006
#define HV_STATUS_INVALID_PARTITION_STATE		0x0007
#define HV_STATUS_OPERATION_DENIED			0x0008
#define HV_STATUS_UNKNOWN_PROPERTY			0x0009
#define HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE		0x000A
#define HV_STATUS_INSUFFICIENT_MEMORY			0x000B
#define HV_STATUS_PARTITION_TOO_DEEP			0x000C
#define HV_STATUS_INVALID_PARTITION_ID			0x000D
#define HV_STATUS_INVALID_VP_INDEX			0x000E
#define HV_STATUS_NOT_FOUND				0x0010
#define HV_STATUS_INVALID_PORT_ID			0x0011
#define HV_STATUS_INVALID_CONNECTION_ID			0x0012
#define HV_STATUS_INSUFFICIENT_BUFFERS			0x0013
#define HV_STATUS_NOT_ACKNOWLEDGED			0x0014
#define HV_STATUS_INVALID_VP_STATE			0x0015
#define HV_STATUS_ACKNOWLEDGED				0x0016
#define HV_STATUS_INVALID_SAVE_RESTORE_STATE		0x0017
#define HV_STATUS_INVALID_SYNIC_STATE			0x0018
#define HV_STATUS_OBJECT_IN_USE				0x0019
#define HV_STATUS_INVALID_PROXIMITY_DOMAIN_INFO		0x001A
#define HV_STATUS_NO_DATA				0x001B
#define HV_STATUS_INACTIVE				0x001C
#define HV_STATUS_NO_RESOURCES				0x001D
#define HV_STATUS_FEATURE_UNAVAILABLE			0x001E
#define HV_STATUS_PARTIAL_PACKET			0x001F
#define HV_STATUS_PROCESSOR_FEATURE_NOT_SUPPORTED	0x0020
#define HV_STATUS_INVALID_LP_INDEX			0x0041
#define HV_STATUS_INVALID_REGISTER_VALUE		0x0050
#define HV_STATUS_INVALID_VTL_STATE			0x0051
#define HV_STATUS_OPERATION_FAILED			0x0071
#define HV_STATUS_TIME_OUT				0x0078
#define HV_STATUS_CALL_PENDING				0x0079
#define HV_STATUS_VTL_ALREADY_ENABLED			0x0086
#define HV_STATUS_UNKNOWN_REGISTER_NAME			0x0087

/* ---- Call codes (HV_CALL_CODE) [L hvgdk_mini.h][O HypercallCode] ----
 * Codes >= 0x8000 are the extended hypercall interface [T]. */

#define HVCALL_SWITCH_VIRTUAL_ADDRESS_SPACE		0x0001
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE		0x0002
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST		0x0003
#define HVCALL_NOTIFY_LONG_SPIN_WAIT			0x0008
#define HVCALL_SEND_SYNTHETIC_CLUSTER_IPI		0x000B
#define HVCALL_SEND_IPI					HVCALL_SEND_SYNTHETIC_CLUSTER_IPI	/* Linux name */
#define HVCALL_MODIFY_VTL_PROTECTION_MASK		0x000C
#define HVCALL_ENABLE_PARTITION_VTL			0x000D
#define HVCALL_ENABLE_VP_VTL				0x000F
#define HVCALL_VTL_CALL					0x0011
#define HVCALL_VTL_RETURN				0x0012
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX		0x0013
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX		0x0014
#define HVCALL_SEND_SYNTHETIC_CLUSTER_IPI_EX		0x0015
#define HVCALL_SEND_IPI_EX				HVCALL_SEND_SYNTHETIC_CLUSTER_IPI_EX	/* Linux name */
#define HVCALL_CREATE_PARTITION				0x0040
#define HVCALL_INITIALIZE_PARTITION			0x0041
#define HVCALL_FINALIZE_PARTITION			0x0042
#define HVCALL_DELETE_PARTITION				0x0043
#define HVCALL_GET_PARTITION_PROPERTY			0x0044
#define HVCALL_SET_PARTITION_PROPERTY			0x0045
#define HVCALL_GET_PARTITION_ID				0x0046
#define HVCALL_GET_NEXT_CHILD_PARTITION			0x0047
#define HVCALL_DEPOSIT_MEMORY				0x0048
#define HVCALL_WITHDRAW_MEMORY				0x0049
#define HVCALL_GET_MEMORY_BALANCE			0x004A
#define HVCALL_MAP_GPA_PAGES				0x004B
#define HVCALL_UNMAP_GPA_PAGES				0x004C
#define HVCALL_INSTALL_INTERCEPT			0x004D
#define HVCALL_CREATE_VP				0x004E
#define HVCALL_DELETE_VP				0x004F
#define HVCALL_GET_VP_REGISTERS				0x0050
#define HVCALL_SET_VP_REGISTERS				0x0051
#define HVCALL_TRANSLATE_VIRTUAL_ADDRESS		0x0052
#define HVCALL_CLEAR_VIRTUAL_INTERRUPT			0x0056
#define HVCALL_DELETE_PORT				0x0058
#define HVCALL_DISCONNECT_PORT				0x005B
#define HVCALL_POST_MESSAGE				0x005C
#define HVCALL_SIGNAL_EVENT				0x005D
#define HVCALL_POST_DEBUG_DATA				0x0069
#define HVCALL_RETRIEVE_DEBUG_DATA			0x006A
#define HVCALL_RESET_DEBUG_SESSION			0x006B
#define HVCALL_MAP_STATS_PAGE				0x006C
#define HVCALL_UNMAP_STATS_PAGE				0x006D
#define HVCALL_OUTPUT_DEBUG_CHARACTER			0x0071
#define HVCALL_ADD_LOGICAL_PROCESSOR			0x0076
#define HVCALL_GET_SYSTEM_PROPERTY			0x007B
#define HVCALL_MAP_DEVICE_INTERRUPT			0x007C
#define HVCALL_UNMAP_DEVICE_INTERRUPT			0x007D
#define HVCALL_RETARGET_DEVICE_INTERRUPT		0x007E
#define HVCALL_NOTIFY_PARTITION_EVENT			0x0087
#define HVCALL_NOTIFY_PORT_RING_EMPTY			0x008B
#define HVCALL_REGISTER_INTERCEPT_RESULT		0x0091
#define HVCALL_ASSERT_VIRTUAL_INTERRUPT			0x0094
#define HVCALL_CREATE_PORT				0x0095
#define HVCALL_CONNECT_PORT				0x0096
#define HVCALL_START_VIRTUAL_PROCESSOR			0x0099
#define HVCALL_START_VP					HVCALL_START_VIRTUAL_PROCESSOR	/* Linux name */
#define HVCALL_GET_VP_INDEX_FROM_APIC_ID		0x009A
#define HVCALL_TRANSLATE_VIRTUAL_ADDRESS_EX		0x00AC
#define HVCALL_CHECK_FOR_IO_INTERCEPT			0x00AD
#define HVCALL_FLUSH_GUEST_PHYSICAL_ADDRESS_SPACE	0x00AF
#define HVCALL_FLUSH_GUEST_PHYSICAL_ADDRESS_LIST	0x00B0
#define HVCALL_SIGNAL_EVENT_DIRECT			0x00C0
#define HVCALL_POST_MESSAGE_DIRECT			0x00C1
#define HVCALL_DISPATCH_VP				0x00C2
#define HVCALL_GET_GPA_PAGES_ACCESS_STATES		0x00C9
#define HVCALL_MODIFY_SPARSE_GPA_PAGE_HOST_VISIBILITY	0x00DB
#define HVCALL_MAP_VP_STATE_PAGE			0x00E1
#define HVCALL_UNMAP_VP_STATE_PAGE			0x00E2
#define HVCALL_GET_VP_STATE				0x00E3
#define HVCALL_SET_VP_STATE				0x00E4
#define HVCALL_GET_VP_CPUID_VALUES			0x00F4
#define HVCALL_MMIO_READ				0x0106
#define HVCALL_MMIO_WRITE				0x0107
#define HVCALL_EXT_QUERY_CAPABILITIES			0x8001

/* ---- Hypercall input value (RCX on x64) [T "Hypercall Inputs"][L][O Control] ----
 *   15:0  call code          16     fast (register-based input)
 *   26:17 variable header size, in qwords
 *   30:27 RsvdZ              31     is-nested (OpenVMM/Linux: route to L0;
 *                                   the TLFS table still shows 31:27 RsvdZ and
 *                                   Linux's RSVD0 mask covers 31:27)
 *   43:32 rep count          47:44  RsvdZ
 *   59:48 rep start index    63:60  RsvdZ
 * A reserved bit set -> HV_STATUS_INVALID_HYPERCALL_INPUT [T "Common
 * Hypercall Status Codes"]. */

#define HV_HYPERCALL_CODE_MASK		0xffffull
#define HV_HYPERCALL_FAST_BIT		(1ull << 16)
#define HV_HYPERCALL_VARHEAD_OFFSET	17
#define HV_HYPERCALL_VARHEAD_MASK	(0x3ffull << 17)
#define HV_HYPERCALL_RSVD0_MASK		(0xfull << 27)	/* bits 30:27 */
#define HV_HYPERCALL_NESTED		(1ull << 31)
#define HV_HYPERCALL_REP_COMP_OFFSET	32
#define HV_HYPERCALL_REP_COMP_1		(1ull << 32)
#define HV_HYPERCALL_REP_COMP_MASK	(0xfffull << 32)
#define HV_HYPERCALL_RSVD1_MASK		(0xfull << 44)	/* bits 47:44 */
#define HV_HYPERCALL_REP_START_OFFSET	48
#define HV_HYPERCALL_REP_START_MASK	(0xfffull << 48)
#define HV_HYPERCALL_RSVD2_MASK		(0xfull << 60)	/* bits 63:60 */
#define HV_HYPERCALL_RSVD_MASK \
	(HV_HYPERCALL_RSVD0_MASK | HV_HYPERCALL_RSVD1_MASK | HV_HYPERCALL_RSVD2_MASK)
#define HV_HYPERCALL_VARHEAD_MAX	0x3ffu		/* qwords */
#define HV_HYPERCALL_REP_MAX		0xfffu		/* rep count and rep start */

/* Hypercall result value (RAX on x64) [T "Hypercall Outputs"][O HypercallOutput]:
 * 15:0 HV_STATUS, 31:16 ignore, 43:32 reps completed (absolute, not relative
 * to the rep start index), 63:44 ignore. */
#define HV_HYPERCALL_RESULT_MASK	0xffffull
/* reps completed: HV_HYPERCALL_REP_COMP_OFFSET / HV_HYPERCALL_REP_COMP_MASK */

/* Register conventions [T]: memory form RDX = input GPA, R8 = output GPA;
 * fast form RDX, R8 = 16 bytes of input; XMM fast form adds XMM0-5 for up to
 * 112 bytes (CPUID 0x40000003 EDX bit 4, #UD when not offered). */
#define HV_HYPERCALL_FAST_GPR_BYTES	16
#define HV_HYPERCALL_MAX_XMM_REGISTERS	6
#define HV_HYPERCALL_FAST_XMM_BYTES	112
/* Linux deposits at most this many pages per HvCallDepositMemory [L3 hv_proc.c]. */
#define HV_DEPOSIT_MAX			(HV_PAGE_SIZE / 8 - 1)

/* ---- Synthetic MSRs [L hvgdk_mini.h][T] ---- */

#define HV_X64_MSR_GUEST_OS_ID		0x40000000
#define HV_X64_MSR_HYPERCALL		0x40000001
#define HV_X64_MSR_VP_INDEX		0x40000002
#define HV_X64_MSR_RESET		0x40000003
#define HV_X64_MSR_VP_RUNTIME		0x40000010
#define HV_X64_MSR_TIME_REF_COUNT	0x40000020
#define HV_X64_MSR_REFERENCE_TSC	0x40000021
#define HV_X64_MSR_TSC_FREQUENCY	0x40000022
#define HV_X64_MSR_APIC_FREQUENCY	0x40000023
#define HV_X64_MSR_EOI			0x40000070
#define HV_X64_MSR_ICR			0x40000071
#define HV_X64_MSR_TPR			0x40000072
#define HV_X64_MSR_VP_ASSIST_PAGE	0x40000073
#define HV_X64_MSR_SCONTROL		0x40000080
#define HV_X64_MSR_SVERSION		0x40000081
#define HV_X64_MSR_SIEFP		0x40000082
#define HV_X64_MSR_SIMP			0x40000083
#define HV_X64_MSR_EOM			0x40000084
#define HV_X64_MSR_SIRBP		0x40000085
#define HV_X64_MSR_SINT0		0x40000090	/* SINTn = SINT0 + n, n < 16 */
#define HV_X64_MSR_SINT15		0x4000009F
#define HV_X64_MSR_SINT(n)		(HV_X64_MSR_SINT0 + (n))
#define HV_X64_MSR_STIMER0_CONFIG	0x400000B0	/* STIMERn_CONFIG = B0 + 2n */
#define HV_X64_MSR_STIMER0_COUNT	0x400000B1	/* STIMERn_COUNT  = B1 + 2n */
#define HV_X64_MSR_STIMER_CONFIG(n)	(HV_X64_MSR_STIMER0_CONFIG + 2 * (n))
#define HV_X64_MSR_STIMER_COUNT(n)	(HV_X64_MSR_STIMER0_COUNT + 2 * (n))
#define HV_X64_MSR_GUEST_IDLE		0x400000F0
#define HV_X64_MSR_CRASH_P0		0x40000100
#define HV_X64_MSR_CRASH_P4		0x40000104
#define HV_X64_MSR_CRASH_CTL		0x40000105
#define HV_X64_MSR_REENLIGHTENMENT_CONTROL 0x40000106
#define HV_X64_MSR_TSC_EMULATION_CONTROL 0x40000107
#define HV_X64_MSR_TSC_EMULATION_STATUS	0x40000108
#define HV_X64_MSR_TSC_INVARIANT_CONTROL 0x40000118

/* HV_X64_MSR_HYPERCALL [T "Establishing the Hypercall Interface"][O
 * MsrHypercallContents]: bit 0 enable, bit 1 locked, 11:2 RsvdP, 63:12 GPFN.
 * Enabling fails (enable stays 0) while GUEST_OS_ID is 0. */
#define HV_X64_MSR_HYPERCALL_ENABLE		0x1ull
#define HV_X64_MSR_HYPERCALL_LOCKED		0x2ull
#define HV_X64_MSR_HYPERCALL_RSVDP_MASK		0xffcull
#define HV_X64_MSR_HYPERCALL_PAGE_ADDRESS_SHIFT	12
#define HV_X64_MSR_HYPERCALL_PAGE_ADDRESS_MASK	(~0xfffull)

/* Overlay pages enabled by bit 0 with the GPFN in 63:12 [L]. */
#define HV_X64_MSR_VP_ASSIST_PAGE_ENABLE	0x1ull
#define HV_X64_MSR_TSC_REFERENCE_ENABLE		0x1ull
#define HV_X64_MSR_PAGE_ADDRESS_SHIFT		12
#define HV_X64_MSR_PAGE_ADDRESS_MASK		(~0xfffull)

/* Crash control [L]. */
#define HV_CRASH_CTL_CRASH_NOTIFY_MSG		(1ull << 62)
#define HV_CRASH_CTL_CRASH_NOTIFY		(1ull << 63)

/* Reference time: 100 ns units [L HV_CLOCK_HZ]. */
#define HV_CLOCK_HZ				10000000ull

/* Guest OS identity, open-source encoding [T "Reporting the Guest OS
 * Identity"]: 63 open source, 62:56 OS type, 55:48 OS id, 47:16 version,
 * 15:0 build.  Linux writes 0x8100 in bits 63:48 [L hvgdk.h]. */
#define HV_GUEST_OS_ID_OPEN_SOURCE		(1ull << 63)
#define HV_GUEST_OS_ID_OS_TYPE_SHIFT		56
#define HV_GUEST_OS_TYPE_LINUX			0x1
#define HV_GUEST_OS_TYPE_FREEBSD		0x2
#define HV_LINUX_VENDOR_ID			0x8100
/* The other fields of the open-source encoding and the remaining
 * allocated OS types [T "Guest OS Identity MSR for Open Source Operating
 * Systems"]. */
#define HV_GUEST_OS_ID_OS_ID_SHIFT		48	/* 55:48 additional vendor information */
#define HV_GUEST_OS_ID_VERSION_SHIFT		16	/* 47:16 upstream kernel version */
#define HV_GUEST_OS_ID_BUILD_MASK		0xffffull	/* 15:0 additional information */
#define HV_GUEST_OS_TYPE_XEN			0x3
#define HV_GUEST_OS_TYPE_ILLUMOS		0x4

/* ---- SynIC [L hvgdk_mini.h, hvhdk.h][T "Inter-Partition Communication"] ---- */

#define HV_SYNIC_SINT_COUNT		16
#define HV_SYNIC_STIMER_COUNT		4
#define HV_SYNIC_VERSION_1		0x1
#define HV_SYNIC_FIRST_VALID_VECTOR	16
#define HV_SYNIC_CONTROL_ENABLE		(1ull << 0)
#define HV_SYNIC_SIMP_ENABLE		(1ull << 0)
#define HV_SYNIC_SIEFP_ENABLE		(1ull << 0)
#define HV_SYNIC_SIRBP_ENABLE		(1ull << 0)
#define HV_SYNIC_SINT_VECTOR_MASK	0xffull
#define HV_SYNIC_SINT_MASKED		(1ull << 16)
#define HV_SYNIC_SINT_AUTO_EOI		(1ull << 17)
#define HV_SYNIC_SINT_POLLING		(1ull << 18)
#define HV_SYNIC_SINT_AS_INTERCEPT	(1ull << 19)
#define HV_SYNIC_SINT_PROXY		(1ull << 20)
/* Statically assigned SINTs. */
#define HV_SYNIC_INTERCEPTION_SINT_INDEX 0
#define HV_SYNIC_IOMMU_FAULT_SINT_INDEX	1
#define HV_SYNIC_VMBUS_SINT_INDEX	2
#define HV_SYNIC_FIRST_UNUSED_SINT_INDEX 5
/* Event flags: 256 bytes (2048 flags) per SINT in the SIEF page. */
#define HV_EVENT_FLAGS_COUNT		2048
#define HV_EVENT_FLAGS_BYTE_COUNT	256
#define HV_SYNIC_EVENT_RING_MESSAGE_COUNT 63

/* Synthetic timer config (HV_X64_MSR_STIMER_CONFIG_CONTENTS) [L]. */
#define HV_STIMER_ENABLE		(1ull << 0)
#define HV_STIMER_PERIODIC		(1ull << 1)
#define HV_STIMER_LAZY			(1ull << 2)
#define HV_STIMER_AUTO_ENABLE		(1ull << 3)
#define HV_STIMER_APIC_VECTOR_SHIFT	4
#define HV_STIMER_APIC_VECTOR_MASK	(0xffull << 4)
#define HV_STIMER_DIRECT_MODE		(1ull << 12)
#define HV_STIMER_SINTX_SHIFT		16
#define HV_STIMER_SINTX_MASK		(0xfull << 16)
/* 63:20 and 15:13 are RsvdZ [T "Synthetic Timer Configuration Register"]. */
#define HV_STIMER_RSVDZ_MASK		(~0xfffffull | (0x7ull << 13))

/* Messages [L hvgdk_mini.h]. */
#define HV_MESSAGE_SIZE			256
#define HV_MESSAGE_PAYLOAD_BYTE_COUNT	240
#define HV_MESSAGE_PAYLOAD_QWORD_COUNT	30
#define HV_MESSAGE_FLAG_PENDING		0x01	/* hv_message_header.flags */

#define HVMSG_NONE				0x00000000
#define HVMSG_UNMAPPED_GPA			0x80000000
#define HVMSG_GPA_INTERCEPT			0x80000001
#define HVMSG_TIMER_EXPIRED			0x80000010
#define HVMSG_INVALID_VP_REGISTER_VALUE		0x80000020
#define HVMSG_UNRECOVERABLE_EXCEPTION		0x80000021
#define HVMSG_UNSUPPORTED_FEATURE		0x80000022
#define HVMSG_OPAQUE_INTERCEPT			0x8000003F
#define HVMSG_EVENTLOG_BUFFERCOMPLETE		0x80000040
#define HVMSG_HYPERCALL_INTERCEPT		0x80000050
#define HVMSG_SYNIC_EVENT_INTERCEPT		0x80000060
#define HVMSG_SYNIC_SINT_INTERCEPT		0x80000061
#define HVMSG_SYNIC_SINT_DELIVERABLE		0x80000062
#define HVMSG_ASYNC_CALL_COMPLETION		0x80000070
#define HVMSG_X64_IO_PORT_INTERCEPT		0x80010000
#define HVMSG_X64_MSR_INTERCEPT			0x80010001
#define HVMSG_X64_CPUID_INTERCEPT		0x80010002
#define HVMSG_X64_EXCEPTION_INTERCEPT		0x80010003
#define HVMSG_X64_APIC_EOI			0x80010004
#define HVMSG_X64_LEGACY_FP_ERROR		0x80010005
#define HVMSG_X64_IOMMU_PRQ			0x80010006
#define HVMSG_X64_HALT				0x80010007
#define HVMSG_X64_INTERRUPTION_DELIVERABLE	0x80010008
#define HVMSG_X64_SIPI_INTERCEPT		0x80010009

/* Ports and connections [L hvhdk.h, hvgdk.h][T datatypes/hv_port_*].
 * Port and connection ids use bits 23:0; 31:24 are reserved. */
#define HV_PORT_TYPE_MESSAGE		1
#define HV_PORT_TYPE_EVENT		2
#define HV_PORT_TYPE_MONITOR		3
#define HV_PORT_TYPE_DOORBELL		4	/* root partition only */
#define HV_PORT_ID_MASK			0x00ffffffu
#define HV_CONNECTION_ID_MASK		0x00ffffffu
#define HV_DISCONNECT_PORT_IS_DOORBELL	0x1u	/* hv_input_disconnect_port.flags */

/* ---- Synthetic CPUID leaves [T "Feature and Interface Discovery"][L][O] ---- */

#define HV_CPUID1_ECX_HYPERVISOR_PRESENT	(1u << 31)	/* CPUID.01H:ECX[31] */

#define HV_CPUID_VENDOR_AND_MAX_FUNCTIONS	0x40000000
#define HV_CPUID_INTERFACE			0x40000001
#define HV_CPUID_VERSION			0x40000002
#define HV_CPUID_FEATURES			0x40000003
#define HV_CPUID_ENLIGHTMENT_INFO		0x40000004
#define HV_CPUID_IMPLEMENT_LIMITS		0x40000005
#define HV_CPUID_HARDWARE_FEATURES		0x40000006
#define HV_CPUID_CPU_MANAGEMENT_FEATURES	0x40000007
#define HV_CPUID_NESTED_FEATURES		0x4000000A
#define HV_CPUID_ISOLATION_CONFIG		0x4000000C
#define HV_CPUID_MIN				0x40000005	/* max leaf is at least this */

/* 0x40000000: EAX = max leaf, EBX:ECX:EDX = "Microsoft Hv". */
#define HV_CPUID_VENDOR_EBX			0x7263694du	/* "Micr" */
#define HV_CPUID_VENDOR_ECX			0x666f736fu	/* "osof" */
#define HV_CPUID_VENDOR_EDX			0x76482074u	/* "t Hv" */
/* 0x40000001: EAX = interface signature. */
#define HV_CPUID_INTERFACE_HV1			0x31237648u	/* "Hv#1" */
/* 0x40000002: EAX build number; EBX major 31:16, minor 15:0; ECX service
 * pack; EDX service branch 31:24, service number 23:0. */
#define HV_CPUID_VERSION_EBX(major, minor) \
	((((uint32_t)(major) & 0xffff) << 16) | ((uint32_t)(minor) & 0xffff))
#define HV_CPUID_VERSION_EDX(branch, number) \
	((((uint32_t)(branch) & 0xff) << 24) | ((uint32_t)(number) & 0xffffff))

/* 0x40000003 EAX = HV_PARTITION_PRIVILEGE_MASK bits 31:0 (synthetic MSR
 * access) [T datatypes/hv_partition_privilege_mask][L][O HvPartitionPrivilege]. */
#define HV_MSR_VP_RUNTIME_AVAILABLE		(1u << 0)
#define HV_MSR_TIME_REF_COUNT_AVAILABLE		(1u << 1)
#define HV_MSR_SYNIC_AVAILABLE			(1u << 2)
#define HV_MSR_SYNTIMER_AVAILABLE		(1u << 3)
#define HV_MSR_APIC_ACCESS_AVAILABLE		(1u << 4)
#define HV_MSR_HYPERCALL_AVAILABLE		(1u << 5)	/* GUEST_OS_ID and HYPERCALL */
#define HV_MSR_VP_INDEX_AVAILABLE		(1u << 6)
#define HV_MSR_RESET_AVAILABLE			(1u << 7)
#define HV_MSR_STAT_PAGES_AVAILABLE		(1u << 8)
#define HV_MSR_REFERENCE_TSC_AVAILABLE		(1u << 9)
#define HV_MSR_GUEST_IDLE_AVAILABLE		(1u << 10)
#define HV_ACCESS_FREQUENCY_MSRS		(1u << 11)
#define HV_ACCESS_DEBUG_MSRS			(1u << 12)
#define HV_ACCESS_REENLIGHTENMENT		(1u << 13)
#define HV_ACCESS_ROOT_SCHEDULER_MSR		(1u << 14)
#define HV_ACCESS_TSC_INVARIANT			(1u << 15)

/* 0x40000003 EBX = HV_PARTITION_PRIVILEGE_MASK bits 63:32 (hypercalls). */
#define HV_CREATE_PARTITIONS			(1u << 0)	/* also every call "restricted to children" */
#define HV_ACCESS_PARTITION_ID			(1u << 1)
#define HV_ACCESS_MEMORY_POOL			(1u << 2)	/* Deposit/Withdraw/GetMemoryBalance */
#define HV_ADJUST_MESSAGE_BUFFERS		(1u << 3)
#define HV_POST_MESSAGES			(1u << 4)
#define HV_SIGNAL_EVENTS			(1u << 5)
#define HV_CREATE_PORT				(1u << 6)
#define HV_CONNECT_PORT				(1u << 7)
#define HV_ACCESS_STATS				(1u << 8)
#define HV_DEBUGGING				(1u << 11)
#define HV_CPU_MANAGEMENT			(1u << 12)
#define HV_CONFIGURE_PROFILER			(1u << 13)
#define HV_ACCESS_VP_EXIT_TRACING		(1u << 14)
#define HV_ENABLE_EXTENDED_GVA_RANGES_FLUSH	(1u << 15)
#define HV_ACCESS_VSM				(1u << 16)
#define HV_ACCESS_VP_REGISTERS			(1u << 17)	/* Get/SetVpRegisters on "self" */
#define HV_FAST_HYPERCALL_OUTPUT		(1u << 19)
#define HV_ENABLE_EXTENDED_HYPERCALLS		(1u << 20)
#define HV_START_VIRTUAL_PROCESSOR		(1u << 21)
#define HV_ISOLATION				(1u << 22)

/* 0x40000003 EDX: features. */
#define HV_X64_MWAIT_AVAILABLE			(1u << 0)	/* deprecated */
#define HV_X64_GUEST_DEBUGGING_AVAILABLE	(1u << 1)
#define HV_X64_PERF_MONITOR_AVAILABLE		(1u << 2)
#define HV_X64_CPU_DYNAMIC_PARTITIONING_AVAILABLE (1u << 3)
#define HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE	(1u << 4)
#define HV_X64_GUEST_IDLE_STATE_AVAILABLE	(1u << 5)
#define HV_X64_HYPERVISOR_SLEEP_STATE_AVAILABLE	(1u << 6)
#define HV_X64_NUMA_DISTANCE_QUERY_AVAILABLE	(1u << 7)
#define HV_FEATURE_FREQUENCY_MSRS_AVAILABLE	(1u << 8)
#define HV_X64_SYNTHETIC_MC_AVAILABLE		(1u << 9)
#define HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE	(1u << 10)
#define HV_FEATURE_DEBUG_MSRS_AVAILABLE		(1u << 11)
#define HV_X64_NPIEP_AVAILABLE			(1u << 12)
#define HV_X64_DISABLE_HYPERVISOR_AVAILABLE	(1u << 13)
#define HV_FEATURE_EXT_GVA_RANGES_FLUSH		(1u << 14)
#define HV_X64_HYPERCALL_XMM_OUTPUT_AVAILABLE	(1u << 15)
#define HV_X64_SINT_POLLING_AVAILABLE		(1u << 17)
#define HV_X64_HYPERCALL_MSR_LOCK_AVAILABLE	(1u << 18)
#define HV_STIMER_DIRECT_MODE_AVAILABLE		(1u << 19)

/* 0x40000004 EAX: implementation recommendations; EBX = spinlock retries
 * before HvCallNotifyLongSpinWait (0xffffffff: never notify); ECX 6:0 =
 * implemented physical address bits. */
#define HV_X64_AS_SWITCH_RECOMMENDED		(1u << 0)
#define HV_X64_LOCAL_TLB_FLUSH_RECOMMENDED	(1u << 1)
#define HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED	(1u << 2)
#define HV_X64_APIC_ACCESS_RECOMMENDED		(1u << 3)
#define HV_X64_SYSTEM_RESET_RECOMMENDED		(1u << 4)
#define HV_X64_RELAXED_TIMING_RECOMMENDED	(1u << 5)
#define HV_X64_DMA_REMAPPING_RECOMMENDED	(1u << 6)
#define HV_X64_INTERRUPT_REMAPPING_RECOMMENDED	(1u << 7)
#define HV_X64_X2APIC_MSRS_RECOMMENDED		(1u << 8)
#define HV_DEPRECATING_AEOI_RECOMMENDED		(1u << 9)
#define HV_X64_CLUSTER_IPI_RECOMMENDED		(1u << 10)
#define HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED	(1u << 11)
#define HV_X64_HYPERV_NESTED			(1u << 12)
#define HV_X64_INT_FOR_MBEC_SYSCALLS_RECOMMENDED (1u << 13)
#define HV_X64_ENLIGHTENED_VMCS_RECOMMENDED	(1u << 14)
#define HV_X64_SYNCED_TIMELINE_RECOMMENDED	(1u << 15)
#define HV_X64_DIRECT_LOCAL_FLUSH_ENTIRE	(1u << 17)
#define HV_X64_NO_NONARCH_CORESHARING		(1u << 18)
#define HV_SPINLOCK_RETRIES_NEVER		0xffffffffu
#define HV_X64_IMPL_PHYS_ADDR_BITS_MASK		0x7fu

/* 0x40000005: EAX max virtual processors, EBX max logical processors,
 * ECX max physical interrupt vectors for remapping (0: not exposed). */

/* 0x40000006 EAX: hardware features detected and in use. */
#define HV_HW_APIC_OVERLAY_ASSIST_IN_USE	(1u << 0)
#define HV_HW_MSR_BITMAPS_IN_USE		(1u << 1)
#define HV_HW_ARCH_PERF_COUNTERS_IN_USE		(1u << 2)
#define HV_HW_SLAT_IN_USE			(1u << 3)
#define HV_HW_DMA_REMAPPING_IN_USE		(1u << 4)
#define HV_HW_INTERRUPT_REMAPPING_IN_USE	(1u << 5)
#define HV_HW_MEMORY_PATROL_SCRUBBER_PRESENT	(1u << 6)
#define HV_HW_DMA_PROTECTION_IN_USE		(1u << 7)
#define HV_HW_HPET_REQUESTED			(1u << 8)
#define HV_HW_SYNTHETIC_TIMERS_VOLATILE		(1u << 9)

/* ---- Partitions [T HvCallCreatePartition, datatypes/hv_partition_*][L hvhdk.h, hvhdk_mini.h] ---- */

/* HV_PARTITION_CREATION_FLAGS */
#define HV_PARTITION_CREATION_FLAG_SMT_ENABLED_GUEST		(1ull << 0)
#define HV_PARTITION_CREATION_FLAG_NESTED_VIRTUALIZATION_CAPABLE (1ull << 1)
#define HV_PARTITION_CREATION_FLAG_GPA_SUPER_PAGES_ENABLED	(1ull << 4)
#define HV_PARTITION_CREATION_FLAG_EXO_PARTITION		(1ull << 8)
#define HV_PARTITION_CREATION_FLAG_VTL1_OVERRIDE		(1ull << 9)
#define HV_PARTITION_CREATION_FLAG_VTL2_OVERRIDE		(1ull << 10)
#define HV_PARTITION_CREATION_FLAG_LAPIC_ENABLED		(1ull << 13)
#define HV_PARTITION_CREATION_FLAG_ENABLE_PERFMON_PMU		(1ull << 15)
#define HV_PARTITION_CREATION_FLAG_ENABLE_PERFMON_LBR		(1ull << 16)
#define HV_PARTITION_CREATION_FLAG_INTERCEPT_MESSAGE_PAGE_ENABLED (1ull << 19)
#define HV_PARTITION_CREATION_FLAG_HYPERCALL_DOORBELL_PAGE_ENABLED (1ull << 20)
#define HV_PARTITION_CREATION_FLAG_X2APIC_CAPABLE		(1ull << 22)

#define HV_MAKE_COMPATIBILITY_VERSION(major, minor) \
	((uint32_t)(((major) << 8) | (minor)))
#define HV_COMPATIBILITY_21_H2		HV_MAKE_COMPATIBILITY_VERSION(0x6, 0x9)

#define HV_PARTITION_PROCESSOR_FEATURES_BANKS	2
/* hv_partition_isolation_properties: 4:0 type, 6:5 host type, 11:7 RsvdZ,
 * 63:12 shared GPA boundary page number. */
#define HV_PARTITION_ISOLATION_TYPE_MASK	0x1full
#define HV_PARTITION_ISOLATION_TYPE_NONE	0
#define HV_PARTITION_ISOLATION_TYPE_VBS		1
#define HV_PARTITION_ISOLATION_TYPE_SNP		2
#define HV_PARTITION_ISOLATION_TYPE_TDX		3

/* HV_PARTITION_PROPERTY_CODE (the ones Linux's root uses [L hvhdk_mini.h],
 * plus the common scheduling/time/compatibility ones [O]). */
#define HV_PARTITION_PROPERTY_PRIVILEGE_FLAGS			0x00010000
#define HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES		0x00010001
#define HV_PARTITION_PROPERTY_SUSPEND				0x00020000
#define HV_PARTITION_PROPERTY_CPU_RESERVE			0x00020001
#define HV_PARTITION_PROPERTY_CPU_CAP				0x00020002
#define HV_PARTITION_PROPERTY_CPU_WEIGHT			0x00020003
#define HV_PARTITION_PROPERTY_INTEGRATED_SCHEDULER_ENABLED	0x00020005
#define HV_PARTITION_PROPERTY_TIME_FREEZE			0x00030003
#define HV_PARTITION_PROPERTY_REFERENCE_TIME			0x00030005
#define HV_PARTITION_PROPERTY_GPA_PAGE_ACCESS_TRACKING		0x00050005
#define HV_PARTITION_PROPERTY_UNIMPLEMENTED_MSR_ACTION		0x00050017
#define HV_PARTITION_PROPERTY_PROCESSOR_VENDOR			0x00060000
#define HV_PARTITION_PROPERTY_PROCESSOR_XSAVE_FEATURES		0x00060002
#define HV_PARTITION_PROPERTY_COMPATIBILITY_VERSION		0x00060005
#define HV_PARTITION_PROPERTY_PHYSICAL_ADDRESS_WIDTH		0x00060006
#define HV_PARTITION_PROPERTY_XSAVE_STATES			0x00060007
#define HV_PARTITION_PROPERTY_MAX_XSAVE_DATA_SIZE		0x00060008
#define HV_PARTITION_PROPERTY_PROCESSOR_CLOCK_FREQUENCY		0x00060009
#define HV_PARTITION_PROPERTY_GUEST_OS_ID			0x00070000
#define HV_PARTITION_PROPERTY_VMM_CAPABILITIES			0x00090007

/* hv_partition_synthetic_processor_features bank 0 (the value of
 * HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES) [L hvhdk.h][O]. */
#define HV_SYNTH_PROC_HYPERVISOR_PRESENT		(1ull << 0)
#define HV_SYNTH_PROC_HV1				(1ull << 1)	/* leaves 0x40000000-6 */
#define HV_SYNTH_PROC_ACCESS_VP_RUN_TIME_REG		(1ull << 2)
#define HV_SYNTH_PROC_ACCESS_PARTITION_REFERENCE_COUNTER (1ull << 3)
#define HV_SYNTH_PROC_ACCESS_SYNIC_REGS			(1ull << 4)
#define HV_SYNTH_PROC_ACCESS_SYNTHETIC_TIMER_REGS	(1ull << 5)
#define HV_SYNTH_PROC_ACCESS_INTR_CTRL_REGS		(1ull << 6)
#define HV_SYNTH_PROC_ACCESS_HYPERCALL_REGS		(1ull << 7)
#define HV_SYNTH_PROC_ACCESS_VP_INDEX			(1ull << 8)
#define HV_SYNTH_PROC_ACCESS_PARTITION_REFERENCE_TSC	(1ull << 9)
#define HV_SYNTH_PROC_ACCESS_GUEST_IDLE_REG		(1ull << 10)
#define HV_SYNTH_PROC_ACCESS_FREQUENCY_REGS		(1ull << 11)
#define HV_SYNTH_PROC_FAST_HYPERCALL_OUTPUT		(1ull << 18)
#define HV_SYNTH_PROC_START_VIRTUAL_PROCESSOR		(1ull << 20)
#define HV_SYNTH_PROC_DIRECT_SYNTHETIC_TIMERS		(1ull << 22)
#define HV_SYNTH_PROC_EXTENDED_PROCESSOR_MASKS		(1ull << 24)
#define HV_SYNTH_PROC_TB_FLUSH_HYPERCALLS		(1ull << 25)
#define HV_SYNTH_PROC_SYNTHETIC_CLUSTER_IPI		(1ull << 26)
#define HV_SYNTH_PROC_NOTIFY_LONG_SPIN_WAIT		(1ull << 27)
#define HV_SYNTH_PROC_QUERY_NUMA_DISTANCE		(1ull << 28)
#define HV_SYNTH_PROC_SIGNAL_EVENTS			(1ull << 29)
#define HV_SYNTH_PROC_RETARGET_DEVICE_INTERRUPT		(1ull << 30)
#define HV_SYNTH_PROC_RESTORE_TIME			(1ull << 31)
#define HV_SYNTH_PROC_ENLIGHTENED_VMCS			(1ull << 32)

/* HV_PROXIMITY_DOMAIN_FLAGS (hv_proximity_domain_info.flags). */
#define HV_PROXIMITY_PREFERRED		(1u << 0)
#define HV_PROXIMITY_INFO_VALID		(1u << 31)

/* HV_INPUT_VTL: 3:0 target VTL, 4 use target VTL, 7:5 RsvdZ. */
#define HV_INPUT_VTL_TARGET_MASK	0x0f
#define HV_INPUT_VTL_USE_TARGET		0x10
#define HV_INPUT_VTL_RSVDZ_MASK		0xe0
#define HV_NORMAL_VTL			0

/* HV_SUBNODE_TYPE (hv_input_create_vp.subnode_type). */
#define HV_SUBNODE_ANY			0

/* HV_MAP_GPA_FLAGS [T datatypes/hv_map_gpa_flags][L hvhdk_mini.h]. */
#define HV_MAP_GPA_PERMISSIONS_NONE	0x0u
#define HV_MAP_GPA_READABLE		0x1u
#define HV_MAP_GPA_WRITABLE		0x2u
#define HV_MAP_GPA_KERNEL_EXECUTABLE	0x4u
#define HV_MAP_GPA_USER_EXECUTABLE	0x8u
#define HV_MAP_GPA_EXECUTABLE		0xCu
#define HV_MAP_GPA_PERMISSIONS_MASK	0xFu
#define HV_MAP_GPA_ADJUSTABLE		0x8000u
#define HV_MAP_GPA_NO_ACCESS		0x10000u
#define HV_MAP_GPA_ZEROED		0x20000u
#define HV_MAP_GPA_ONES			0x30000u
#define HV_MAP_GPA_NO_OVERLAY		0x100000u
#define HV_MAP_GPA_NOT_CACHED		0x200000u
#define HV_MAP_GPA_LARGE_PAGE		0x80000000u

/* HV_UNMAP_GPA_FLAGS [T datatypes/hv_unmap_gpa_flags][L hvgdk_mini.h]. */
#define HV_UNMAP_GPA_KEEP_PRECOMMITTED	0x1u
#define HV_UNMAP_GPA_LARGE_PAGE		0x2u

/* HV_INTERCEPT_TYPE [T datatypes/hv_intercept_type][L hvgdk_mini.h]. */
#define HV_INTERCEPT_TYPE_X64_IO_PORT		0x00000000
#define HV_INTERCEPT_TYPE_X64_MSR		0x00000001
#define HV_INTERCEPT_TYPE_X64_CPUID		0x00000002
#define HV_INTERCEPT_TYPE_EXCEPTION		0x00000003
#define HV_INTERCEPT_TYPE_MMIO			0x00000005
#define HV_INTERCEPT_TYPE_X64_GLOBAL_CPUID	0x00000006
#define HV_INTERCEPT_TYPE_X64_APIC_SMI		0x00000007
#define HV_INTERCEPT_TYPE_HYPERCALL		0x00000008
#define HV_INTERCEPT_TYPE_X64_APIC_INIT_SIPI	0x00000009
#define HV_INTERCEPT_TYPE_X64_APIC_WRITE	0x0000000B
#define HV_INTERCEPT_TYPE_X64_MSR_INDEX		0x0000000C
#define HV_INTERCEPT_TYPE_UNKNOWN_SYNIC_CONNECTION 0x0000000D
#define HV_INTERCEPT_TYPE_X64_APIC_EOI		0x0000000E
#define HV_INTERCEPT_TYPE_X64_EXCEPTION_TRAP	0x00000010
#define HV_INTERCEPT_TYPE_X64_IO_PORT_RANGE	0x00000011
#define HV_INTERCEPT_TYPE_INVALID		0xFFFFFFFF

/* HV_INTERCEPT_ACCESS_TYPE_MASK. */
#define HV_INTERCEPT_ACCESS_MASK_NONE		0x00u
#define HV_INTERCEPT_ACCESS_MASK_READ		0x01u
#define HV_INTERCEPT_ACCESS_MASK_WRITE		0x02u
#define HV_INTERCEPT_ACCESS_MASK_READ_WRITE	0x03u
#define HV_INTERCEPT_ACCESS_MASK_EXECUTE	0x04u

/* HV_INTERCEPT_PARAMETERS (8 bytes): io port 15:0 (IO_PORT), base 15:0 /
 * end 31:16 (IO_PORT_RANGE), CPUID index 31:0, MSR index 31:0, exception
 * vector 15:0, APIC write mask 31:0 [T datatypes/hv_intercept_parameters][O]. */
#define HV_INTERCEPT_PARAM_IO_PORT_RANGE(base, end) \
	((uint64_t)((base) & 0xffff) | ((uint64_t)((end) & 0xffff) << 16))

/* ---- Register names (HV_REGISTER_NAME) for Get/SetVpRegisters on x64
 * [O HvX64RegisterName][L hvgdk_mini.h hv_register_name] ---- */

#define HV_REGISTER_EXPLICIT_SUSPEND		0x00000000
#define HV_REGISTER_INTERCEPT_SUSPEND		0x00000001
#define HV_REGISTER_INSTRUCTION_EMULATION_HINTS	0x00000002
#define HV_REGISTER_DISPATCH_SUSPEND		0x00000003
#define HV_REGISTER_INTERNAL_ACTIVITY_STATE	0x00000004	/* [L hvgdk_mini.h] */
/* HV_REGISTER_INTERNAL_ACTIVITY_STATE (hv_internal_activity_register). */
#define HV_INTERNAL_ACTIVITY_STARTUP_SUSPEND	(1ull << 0)
#define HV_INTERNAL_ACTIVITY_HALT_SUSPEND	(1ull << 1)
#define HV_INTERNAL_ACTIVITY_IDLE_SUSPEND	(1ull << 2)
#define HV_REGISTER_HYPERVISOR_VERSION		0x00000100	/* = CPUID 0x40000002 */
#define HV_REGISTER_PRIVILEGES_AND_FEATURES_INFO 0x00000200	/* = CPUID 0x40000003 */
#define HV_REGISTER_FEATURES_INFO		0x00000201
#define HV_REGISTER_IMPLEMENTATION_LIMITS_INFO	0x00000202
#define HV_REGISTER_HARDWARE_FEATURES_INFO	0x00000203
#define HV_REGISTER_GUEST_CRASH_P0		0x00000210
#define HV_REGISTER_GUEST_CRASH_CTL		0x00000215
#define HV_REGISTER_PENDING_INTERRUPTION	0x00010002
#define HV_REGISTER_INTERRUPT_STATE		0x00010003
#define HV_REGISTER_PENDING_EVENT0		0x00010004
#define HV_REGISTER_PENDING_EVENT1		0x00010005

#define HV_X64_REGISTER_RAX		0x00020000
#define HV_X64_REGISTER_RCX		0x00020001
#define HV_X64_REGISTER_RDX		0x00020002
#define HV_X64_REGISTER_RBX		0x00020003
#define HV_X64_REGISTER_RSP		0x00020004
#define HV_X64_REGISTER_RBP		0x00020005
#define HV_X64_REGISTER_RSI		0x00020006
#define HV_X64_REGISTER_RDI		0x00020007
#define HV_X64_REGISTER_R8		0x00020008
#define HV_X64_REGISTER_R9		0x00020009
#define HV_X64_REGISTER_R10		0x0002000A
#define HV_X64_REGISTER_R11		0x0002000B
#define HV_X64_REGISTER_R12		0x0002000C
#define HV_X64_REGISTER_R13		0x0002000D
#define HV_X64_REGISTER_R14		0x0002000E
#define HV_X64_REGISTER_R15		0x0002000F
#define HV_X64_REGISTER_RIP		0x00020010
#define HV_X64_REGISTER_RFLAGS		0x00020011

#define HV_X64_REGISTER_XMM0		0x00030000	/* XMMn = XMM0 + n, n < 16 */
#define HV_X64_REGISTER_FP_MMX0		0x00030010	/* FP_MMXn = FP_MMX0 + n, n < 8 */
#define HV_X64_REGISTER_FP_CONTROL_STATUS 0x00030018
#define HV_X64_REGISTER_XMM_CONTROL_STATUS 0x00030019

#define HV_X64_REGISTER_CR0		0x00040000
#define HV_X64_REGISTER_CR2		0x00040001
#define HV_X64_REGISTER_CR3		0x00040002
#define HV_X64_REGISTER_CR4		0x00040003
#define HV_X64_REGISTER_CR8		0x00040004
#define HV_X64_REGISTER_XFEM		0x00040005

#define HV_X64_REGISTER_DR0		0x00050000
#define HV_X64_REGISTER_DR1		0x00050001
#define HV_X64_REGISTER_DR2		0x00050002
#define HV_X64_REGISTER_DR3		0x00050003
#define HV_X64_REGISTER_DR6		0x00050004
#define HV_X64_REGISTER_DR7		0x00050005

#define HV_X64_REGISTER_ES		0x00060000	/* value: hv_x64_segment_register */
#define HV_X64_REGISTER_CS		0x00060001
#define HV_X64_REGISTER_SS		0x00060002
#define HV_X64_REGISTER_DS		0x00060003
#define HV_X64_REGISTER_FS		0x00060004
#define HV_X64_REGISTER_GS		0x00060005
#define HV_X64_REGISTER_LDTR		0x00060006
#define HV_X64_REGISTER_TR		0x00060007

#define HV_X64_REGISTER_IDTR		0x00070000	/* value: hv_x64_table_register */
#define HV_X64_REGISTER_GDTR		0x00070001

#define HV_X64_REGISTER_TSC		0x00080000
#define HV_X64_REGISTER_EFER		0x00080001
#define HV_X64_REGISTER_KERNEL_GS_BASE	0x00080002
#define HV_X64_REGISTER_APIC_BASE	0x00080003
#define HV_X64_REGISTER_PAT		0x00080004
#define HV_X64_REGISTER_SYSENTER_CS	0x00080005
#define HV_X64_REGISTER_SYSENTER_EIP	0x00080006
#define HV_X64_REGISTER_SYSENTER_ESP	0x00080007
#define HV_X64_REGISTER_STAR		0x00080008
#define HV_X64_REGISTER_LSTAR		0x00080009
#define HV_X64_REGISTER_CSTAR		0x0008000A
#define HV_X64_REGISTER_SFMASK		0x0008000B
#define HV_X64_REGISTER_INITIAL_APIC_ID	0x0008000C
#define HV_X64_REGISTER_MTRR_CAP	0x0008000D
#define HV_X64_REGISTER_MTRR_DEF_TYPE	0x0008000E
#define HV_X64_REGISTER_TSC_AUX		0x0008007B
#define HV_X64_REGISTER_DEBUG_CTL	0x0008007D
#define HV_X64_REGISTER_SPEC_CTRL	0x00080084
#define HV_X64_REGISTER_TSC_DEADLINE	0x00080095
#define HV_X64_REGISTER_TSC_ADJUST	0x00080096

#define HV_REGISTER_VP_RUNTIME		0x00090000
#define HV_REGISTER_HYPERCALL		0x00090001	/* HV_X64_MSR_HYPERCALL */
#define HV_REGISTER_GUEST_OS_ID		0x00090002
#define HV_REGISTER_VP_INDEX		0x00090003
#define HV_REGISTER_TIME_REF_COUNT	0x00090004
#define HV_REGISTER_CPU_MANAGEMENT_VERSION 0x00090007
#define HV_REGISTER_VP_ASSIST_PAGE	0x00090013
#define HV_REGISTER_VP_ROOT_SIGNAL_COUNT 0x00090014
#define HV_REGISTER_REFERENCE_TSC	0x00090017

#define HV_REGISTER_SINT0		0x000A0000	/* SINTn = SINT0 + n, n < 16 */
#define HV_REGISTER_SCONTROL		0x000A0010
#define HV_REGISTER_SVERSION		0x000A0011
#define HV_REGISTER_SIEFP		0x000A0012
#define HV_REGISTER_SIMP		0x000A0013
#define HV_REGISTER_EOM			0x000A0014
#define HV_REGISTER_SIRBP		0x000A0015
#define HV_REGISTER_STIMER0_CONFIG	0x000B0000	/* STIMERn_CONFIG = + 2n */
#define HV_REGISTER_STIMER0_COUNT	0x000B0001	/* STIMERn_COUNT  = + 2n */
#define HV_REGISTER_VSM_VP_STATUS	0x000D0003

/* hv_x64_segment_register.attributes: the low 16 bits of the VMX access
 * rights (SDM Vol. 3C 25.4.1): 3:0 type, 4 S, 6:5 DPL, 7 P, 11:8 reserved,
 * 12 AVL, 13 L, 14 D/B, 15 G [L hvgdk_mini.h]. */
#define HV_X64_SEGMENT_ATTR_TYPE_MASK	0x000f
#define HV_X64_SEGMENT_ATTR_S		0x0010
#define HV_X64_SEGMENT_ATTR_DPL_SHIFT	5
#define HV_X64_SEGMENT_ATTR_DPL_MASK	0x0060
#define HV_X64_SEGMENT_ATTR_P		0x0080
#define HV_X64_SEGMENT_ATTR_AVL		0x1000
#define HV_X64_SEGMENT_ATTR_L		0x2000
#define HV_X64_SEGMENT_ATTR_DB		0x4000
#define HV_X64_SEGMENT_ATTR_G		0x8000

/* HV_REGISTER_INTERRUPT_STATE (hv_x64_interrupt_state_register). */
#define HV_X64_INTERRUPT_STATE_SHADOW	(1ull << 0)
#define HV_X64_INTERRUPT_STATE_NMI_MASKED (1ull << 1)
/* HV_REGISTER_PENDING_INTERRUPTION (hv_x64_pending_interruption_register):
 * 0 pending, 3:1 type, 4 deliver error code, 8:5 instruction length,
 * 9 nested event, 31:16 vector, 63:32 error code. */
#define HV_X64_PENDING_INTERRUPTION_PENDING	(1ull << 0)
#define HV_X64_PENDING_INTERRUPTION_TYPE_SHIFT	1
#define HV_X64_PENDING_INTERRUPTION_TYPE_MASK	(0x7ull << 1)
#define HV_X64_PENDING_INTERRUPTION_ERROR_CODE_VALID (1ull << 4)
#define HV_X64_PENDING_INTERRUPTION_VECTOR_SHIFT 16
#define HV_X64_PENDING_INTERRUPTION_VECTOR_MASK	(0xffffull << 16)
#define HV_X64_PENDING_INTERRUPTION_ERROR_CODE_SHIFT 32

/* ---- Wire structures ---- */

/* Element types of the rep calls. */
typedef uint64_t hv_gpa_page_number;	/* HV_GPA_PAGE_NUMBER: GPA >> 12 */
typedef uint32_t hv_register_name;	/* HV_REGISTER_NAME */

struct hv_u128 {			/* HV_UINT128 */
	uint64_t low_part;
	uint64_t high_part;
} HV_PACKED;

struct hv_proximity_domain_info {	/* HV_PROXIMITY_DOMAIN_INFO */
	uint32_t domain_id;		/* HV_PROXIMITY_DOMAIN_ID */
	uint32_t flags;			/* HV_PROXIMITY_PREFERRED, HV_PROXIMITY_INFO_VALID */
} HV_PACKED;

struct hv_x64_segment_register {	/* HV_X64_SEGMENT_REGISTER */
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint16_t attributes;		/* HV_X64_SEGMENT_ATTR_* */
} HV_PACKED;

struct hv_x64_table_register {		/* HV_X64_TABLE_REGISTER */
	uint16_t pad[3];
	uint16_t limit;
	uint64_t base;
} HV_PACKED;

union hv_register_value {		/* HV_REGISTER_VALUE: 16 bytes */
	struct hv_u128 reg128;
	uint64_t reg64;
	uint32_t reg32;
	uint16_t reg16;
	uint8_t reg8;
	struct hv_x64_segment_register segment;
	struct hv_x64_table_register table;
} HV_PACKED;

struct hv_register_assoc {		/* HV_REGISTER_ASSOC: SetVpRegisters element */
	hv_register_name name;
	uint32_t reserved1;		/* RsvdZ */
	uint64_t reserved2;		/* RsvdZ */
	union hv_register_value value;
} HV_PACKED;

/* HvCallCreatePartition 0x0040, simple [T][L hvhdk.h]. */
struct hv_input_create_partition {	/* HV_INPUT_CREATE_PARTITION */
	uint64_t flags;			/* HV_PARTITION_CREATION_FLAG_* */
	struct hv_proximity_domain_info proximity_domain_info;
	uint32_t compatibility_version;	/* HV_COMPATIBILITY_VERSION */
	uint32_t padding;
	uint64_t disabled_processor_features[HV_PARTITION_PROCESSOR_FEATURES_BANKS];
	uint64_t disabled_processor_xsave_features;
	uint64_t isolation_properties;	/* ReservedZ0 in the TLFS page */
} HV_PACKED;

struct hv_output_create_partition {	/* HV_OUTPUT_CREATE_PARTITION */
	uint64_t partition_id;
} HV_PACKED;

/* HvCallInitializePartition 0x0041, HvCallFinalizePartition 0x0042,
 * HvCallDeletePartition 0x0043: simple, fast form allowed [T MSDN "[fast]"]. */
struct hv_input_initialize_partition {	/* HV_INPUT_INITIALIZE_PARTITION */
	uint64_t partition_id;
} HV_PACKED;

struct hv_input_finalize_partition {	/* HV_INPUT_FINALIZE_PARTITION */
	uint64_t partition_id;
} HV_PACKED;

struct hv_input_delete_partition {	/* HV_INPUT_DELETE_PARTITION */
	uint64_t partition_id;
} HV_PACKED;

/* HvCallGetPartitionProperty 0x0044 / HvCallSetPartitionProperty 0x0045, simple. */
struct hv_input_get_partition_property { /* HV_INPUT_GET_PARTITION_PROPERTY */
	uint64_t partition_id;
	uint32_t property_code;		/* HV_PARTITION_PROPERTY_* */
	uint32_t padding;		/* RsvdZ */
} HV_PACKED;

struct hv_output_get_partition_property { /* HV_OUTPUT_GET_PARTITION_PROPERTY */
	uint64_t property_value;
} HV_PACKED;

struct hv_input_set_partition_property { /* HV_INPUT_SET_PARTITION_PROPERTY */
	uint64_t partition_id;
	uint32_t property_code;
	uint32_t padding;
	uint64_t property_value;
} HV_PACKED;

/* HvCallGetPartitionId 0x0046, simple: no input. */
struct hv_output_get_partition_id {	/* HV_OUTPUT_GET_PARTITION_ID */
	uint64_t partition_id;
} HV_PACKED;

/* HvCallDepositMemory 0x0048, rep: header + hv_gpa_page_number[rep count]. */
struct hv_input_deposit_memory {	/* HV_INPUT_DEPOSIT_MEMORY (fixed header) */
	uint64_t partition_id;
} HV_PACKED;

/* HvCallWithdrawMemory 0x0049, rep: header in, hv_gpa_page_number[rep count] out. */
struct hv_input_withdraw_memory {	/* HV_INPUT_WITHDRAW_MEMORY */
	uint64_t partition_id;
	struct hv_proximity_domain_info proximity_domain_info;
} HV_PACKED;

/* HvCallMapGpaPages 0x004B, rep: header + hv_gpa_page_number[rep count]
 * (source pages); target pages are target_gpa_base + i. */
struct hv_input_map_gpa_pages {		/* HV_INPUT_MAP_GPA_PAGES (fixed header) */
	uint64_t target_partition_id;
	hv_gpa_page_number target_gpa_base;
	uint32_t map_flags;		/* HV_MAP_GPA_* */
	uint32_t padding;
} HV_PACKED;

/* HvCallUnmapGpaPages 0x004C, rep with no element list: rep count = pages. */
struct hv_input_unmap_gpa_pages {	/* HV_INPUT_UNMAP_GPA_PAGES */
	uint64_t target_partition_id;
	hv_gpa_page_number target_gpa_base;
	uint32_t unmap_flags;		/* HV_UNMAP_GPA_* */
	uint32_t padding;
} HV_PACKED;

/* HvCallInstallIntercept 0x004D, simple. */
struct hv_input_install_intercept {	/* HV_INPUT_INSTALL_INTERCEPT */
	uint64_t partition_id;
	uint32_t access_type;		/* HV_INTERCEPT_ACCESS_MASK_* */
	uint32_t intercept_type;	/* HV_INTERCEPT_TYPE_* */
	uint64_t intercept_parameter;	/* HV_INTERCEPT_PARAMETERS */
} HV_PACKED;

/* HvCallCreateVp 0x004E, simple [T]. */
struct hv_input_create_vp {		/* HV_INPUT_CREATE_VP */
	uint64_t partition_id;
	uint32_t vp_index;
	uint8_t padding[3];		/* ReservedZ0 */
	uint8_t subnode_type;		/* HV_SUBNODE_TYPE */
	uint64_t subnode_id;
	struct hv_proximity_domain_info proximity_domain_info;
	uint64_t flags;			/* RsvdZ */
} HV_PACKED;

/* HvCallGetVpRegisters 0x0050, rep: header + hv_register_name[rep count] in,
 * union hv_register_value[rep count] out.  HvCallSetVpRegisters 0x0051,
 * rep: header + struct hv_register_assoc[rep count]. */
struct hv_input_get_vp_registers {	/* HV_INPUT_GET_VP_REGISTERS (fixed header) */
	uint64_t partition_id;
	uint32_t vp_index;
	uint8_t input_vtl;		/* HV_INPUT_VTL */
	uint8_t rsvd_z8;
	uint16_t rsvd_z16;
} HV_PACKED;

struct hv_input_set_vp_registers {	/* HV_INPUT_SET_VP_REGISTERS (fixed header) */
	uint64_t partition_id;
	uint32_t vp_index;
	uint8_t input_vtl;
	uint8_t rsvd_z8;
	uint16_t rsvd_z16;
} HV_PACKED;

/* HvCallFlushVirtualAddressSpace 0x0002, simple; HvCallFlushVirtualAddressList
 * 0x0003, rep, the same header then GVA ranges [T "HvCallFlushVirtualAddressSpace"]
 * [L hvgdk_mini.h HV_FLUSH_*]. */
#define HV_FLUSH_ALL_PROCESSORS			(1ull << 0)
#define HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES	(1ull << 1)
#define HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY	(1ull << 2)
#define HV_FLUSH_USE_EXTENDED_RANGE_FORMAT	(1ull << 3)

struct hv_input_flush_virtual_address_space { /* HV_INPUT_FLUSH_VIRTUAL_ADDRESS_SPACE */
	uint64_t address_space;		/* a CR3 value */
	uint64_t flags;			/* HV_FLUSH_* */
	uint64_t processor_mask;	/* VP indices 0-63 */
} HV_PACKED;

/* HvCallNotifyLongSpinWait 0x0008, simple, fast form: the input is the
 * spin count (u64) [T "HvCallNotifyLongSpinWait"][L hv_notify_long_spin_wait]. */
struct hv_input_notify_long_spin_wait {	/* HV_INPUT_NOTIFY_LONG_SPIN_WAIT */
	uint64_t spin_count;
} HV_PACKED;

/* HvCallSendSyntheticClusterIpi 0x000B, simple, fast form allowed. */
struct hv_input_send_synthetic_cluster_ipi { /* HV_INPUT_SEND_SYNTHETIC_CLUSTER_IPI */
	uint32_t vector;		/* 0x10..0xff */
	uint8_t target_vtl;		/* HV_INPUT_VTL */
	uint8_t flags;
	uint16_t reserved;
	uint64_t processor_mask;
} HV_PACKED;

/* HvCallSendSyntheticClusterIpiEx 0x0015, simple, memory form: the
 * fixed part of HV_VP_SET, then one 64-bit bank per bit of
 * valid_bank_mask in the variable header [T "HV_VP_SET"][L hv_send_ipi_ex]. */
#define HV_GENERIC_SET_SPARSE_4K 0
#define HV_GENERIC_SET_ALL 1
struct hv_input_send_synthetic_cluster_ipi_ex { /* HV_INPUT_SEND_SYNTHETIC_CLUSTER_IPI_EX */
	uint32_t vector;		/* 0x10..0xff */
	uint8_t target_vtl;		/* HV_INPUT_VTL */
	uint8_t rsvd_z[3];
	uint64_t format;		/* HV_GENERIC_SET_* */
	uint64_t valid_bank_mask;	/* bank n covers VP indices 64n..64n+63 */
} HV_PACKED;

/* HvCallStartVirtualProcessor 0x0099, simple [T]. */
struct hv_initial_vp_context {		/* HV_INITIAL_VP_CONTEXT */
	uint64_t rip, rsp, rflags;
	struct hv_x64_segment_register cs, ds, es, fs, gs, ss, tr, ldtr;
	struct hv_x64_table_register idtr, gdtr;
	uint64_t efer, cr0, cr3, cr4, msr_cr_pat;
} HV_PACKED;

struct hv_input_start_virtual_processor { /* HV_INPUT_START_VIRTUAL_PROCESSOR */
	uint64_t partition_id;
	uint32_t vp_index;
	uint8_t target_vtl;
	uint8_t rsvd_z[3];
	struct hv_initial_vp_context vp_context;
} HV_PACKED;

/* HvCallDeletePort 0x0058, simple, fast form allowed. */
struct hv_input_delete_port {		/* HV_INPUT_DELETE_PORT */
	uint64_t port_partition_id;
	uint32_t port_id;		/* HV_PORT_ID */
	uint32_t reserved;
} HV_PACKED;

/* HvCallDisconnectPort 0x005B, simple, fast form allowed. */
struct hv_input_disconnect_port {	/* HV_INPUT_DISCONNECT_PORT */
	uint64_t connection_partition_id;
	uint32_t connection_id;		/* HV_CONNECTION_ID */
	uint32_t flags;			/* HV_DISCONNECT_PORT_IS_DOORBELL */
} HV_PACKED;

/* HvCallPostMessage 0x005C, simple [T]. */
struct hv_input_post_message {		/* HV_INPUT_POST_MESSAGE */
	uint32_t connection_id;
	uint32_t reserved;		/* RsvdZ */
	uint32_t message_type;		/* non-zero, bit 31 clear */
	uint32_t payload_size;		/* <= HV_MESSAGE_PAYLOAD_BYTE_COUNT */
	uint64_t payload[HV_MESSAGE_PAYLOAD_QWORD_COUNT];
} HV_PACKED;

/* HvCallSignalEvent 0x005D, simple, fast form allowed [T][O]. */
struct hv_input_signal_event {		/* HV_INPUT_SIGNAL_EVENT */
	uint32_t connection_id;
	uint16_t flag_number;
	uint16_t rsvd_z;
} HV_PACKED;

/* HvCallCreatePort 0x0095 / HvCallConnectPort 0x0096, simple [T][L hvhdk.h]. */
struct hv_port_info {			/* HV_PORT_INFO: 24 bytes */
	uint32_t port_type;		/* HV_PORT_TYPE_* */
	uint32_t padding;
	union {
		struct {
			uint32_t target_sint;
			uint32_t target_vp;
			uint64_t rsvd_z;
		} HV_PACKED message_port_info;
		struct {
			uint32_t target_sint;
			uint32_t target_vp;
			uint16_t base_flag_number;
			uint16_t flag_count;
			uint32_t rsvd_z;
		} HV_PACKED event_port_info;
		struct {
			uint64_t monitor_address;
			uint64_t rsvd_z;
		} HV_PACKED monitor_port_info;
		struct {
			uint32_t target_sint;
			uint32_t target_vp;
			uint64_t rsvd_z;
		} HV_PACKED doorbell_port_info;
	} HV_PACKED u;
} HV_PACKED;

struct hv_connection_info {		/* HV_CONNECTION_INFO: 32 bytes */
	uint32_t port_type;
	uint32_t padding;
	union {
		struct {
			uint64_t rsvd_z;
		} HV_PACKED message_connection_info;
		struct {
			uint64_t rsvd_z;
		} HV_PACKED event_connection_info;
		struct {
			uint64_t monitor_address;
		} HV_PACKED monitor_connection_info;
		struct {
			uint64_t gpa;
			uint64_t trigger_value;
			uint64_t flags;
		} HV_PACKED doorbell_connection_info;
	} HV_PACKED u;
} HV_PACKED;

struct hv_input_create_port {		/* HV_INPUT_CREATE_PORT */
	uint64_t port_partition_id;
	uint32_t port_id;
	uint8_t port_vtl;
	uint8_t min_connection_vtl;
	uint16_t padding;		/* ReservedZ0 */
	uint64_t connection_partition_id;
	struct hv_port_info port_info;
	struct hv_proximity_domain_info proximity_domain_info;
} HV_PACKED;

struct hv_input_connect_port {		/* HV_INPUT_CONNECT_PORT */
	uint64_t connection_partition_id;
	uint32_t connection_id;
	uint8_t connection_vtl;
	uint8_t rsvd_z0;
	uint16_t rsvd_z1;
	uint64_t port_partition_id;
	uint32_t port_id;
	uint32_t rsvd_z2;
	struct hv_connection_info connection_info;
	struct hv_proximity_domain_info proximity_domain_info;
} HV_PACKED;

/* SynIC message slot [L hvgdk_mini.h][T]. */
struct hv_message_header {		/* HV_MESSAGE_HEADER */
	uint32_t message_type;		/* HVMSG_* */
	uint8_t payload_size;
	uint8_t message_flags;		/* HV_MESSAGE_FLAG_PENDING */
	uint8_t reserved[2];
	uint64_t sender;		/* or the port id */
} HV_PACKED;

struct hv_message {			/* HV_MESSAGE */
	struct hv_message_header header;
	uint64_t payload[HV_MESSAGE_PAYLOAD_QWORD_COUNT];
} HV_PACKED;

/* HvMessageTypeTimerExpired's payload [T datatypes/hv_timer_message_payload]. */
struct hv_timer_message_payload {	/* HV_TIMER_MESSAGE_PAYLOAD */
	uint32_t timer_index;		/* 0-3 */
	uint32_t reserved;
	uint64_t expiration_time;	/* when it was due, reference time (100 ns) */
	uint64_t delivery_time;		/* when the message went into the SIM slot */
} HV_PACKED;

/* The reference TSC page [T "Partition Reference Time Enlightenment"]:
 * reference time = ((TSC * tsc_scale) >> 64) + tsc_offset, a 64 x 64 ->
 * 128-bit product; tsc_sequence 0 says the page is not usable (read
 * HV_X64_MSR_TIME_REF_COUNT instead). */
struct hv_reference_tsc_page {		/* HV_REFERENCE_TSC_PAGE */
	uint32_t tsc_sequence;
	uint32_t reserved1;
	uint64_t tsc_scale;
	int64_t tsc_offset;
	uint64_t reserved2[509];
} HV_PACKED;

/* Intercept messages [L hvhdk.h][T "Intercepts"]: what the hypervisor
 * posts to the parent's SINT0 (HV_SYNIC_INTERCEPTION_SINT_INDEX) when a
 * child VP hits an installed intercept.  The intercepted VP stays
 * suspended (HV_REGISTER_INTERCEPT_SUSPEND = 1) until the parent clears
 * that register. */
#define HV_INTERCEPT_ACCESS_READ		0	/* header.intercept_access_type */
#define HV_INTERCEPT_ACCESS_WRITE		1
#define HV_INTERCEPT_ACCESS_EXECUTE		2

/* HV_X64_VP_EXECUTION_STATE (16 bits). */
#define HV_X64_VP_EXEC_CPL_MASK			0x0003u
#define HV_X64_VP_EXEC_CR0_PE			(1u << 2)
#define HV_X64_VP_EXEC_CR0_AM			(1u << 3)
#define HV_X64_VP_EXEC_EFER_LMA			(1u << 4)
#define HV_X64_VP_EXEC_DEBUG_ACTIVE		(1u << 5)
#define HV_X64_VP_EXEC_INTERRUPTION_PENDING	(1u << 6)
#define HV_X64_VP_EXEC_VTL_SHIFT		7	/* 10:7 */
#define HV_X64_VP_EXEC_ENCLAVE_MODE		(1u << 11)
#define HV_X64_VP_EXEC_INTERRUPT_SHADOW		(1u << 12)

/* HV_X64_IO_PORT_ACCESS_INFO (8 bits): 2:0 access size in bytes (1, 2,
 * 4), 3 string op (INS/OUTS), 4 REP prefix. */
#define HV_X64_IO_ACCESS_SIZE_MASK		0x07u
#define HV_X64_IO_ACCESS_STRING_OP		(1u << 3)
#define HV_X64_IO_ACCESS_REP_PREFIX		(1u << 4)

struct hv_x64_intercept_message_header { /* HV_X64_INTERCEPT_MESSAGE_HEADER */
	uint32_t vp_index;
	uint8_t instruction_length;	/* 3:0 instruction length, 7:4 CR8 (exo partitions) */
	uint8_t intercept_access_type;	/* HV_INTERCEPT_ACCESS_* */
	uint16_t execution_state;	/* HV_X64_VP_EXEC_* */
	struct hv_x64_segment_register cs_segment;
	uint64_t rip;
	uint64_t rflags;
} HV_PACKED;

struct hv_x64_io_port_intercept_message { /* HV_X64_IO_PORT_INTERCEPT_MESSAGE */
	struct hv_x64_intercept_message_header header;
	uint16_t port_number;
	uint8_t access_info;		/* HV_X64_IO_ACCESS_* */
	uint8_t instruction_byte_count;
	uint32_t reserved;
	uint64_t rax;
	uint8_t instruction_bytes[16];
	struct hv_x64_segment_register ds_segment;
	struct hv_x64_segment_register es_segment;
	uint64_t rcx;
	uint64_t rsi;
	uint64_t rdi;
} HV_PACKED;

/* HvMessageTypeUnmappedGpa (HVMSG_UNMAPPED_GPA: an access to a GPA the
 * partition has no mapping for) and HvMessageTypeGpaIntercept
 * (HVMSG_GPA_INTERCEPT: a mapped page whose access rights forbid the
 * access) carry this payload [L hvhdk.h struct
 * hv_x64_memory_intercept_message, union hv_x64_memory_access_info; L
 * hvgdk_mini.h enum hv_cache_type][T "Intercepts"]. */
#define HV_CACHE_TYPE_UNCACHED			0	/* cache_type */
#define HV_CACHE_TYPE_WRITE_COMBINING		1
#define HV_CACHE_TYPE_WRITE_THROUGH		4
#define HV_CACHE_TYPE_WRITE_PROTECTED		5
#define HV_CACHE_TYPE_WRITE_BACK		6

/* HV_X64_MEMORY_ACCESS_INFO (8 bits): 0 guest_virtual_address is valid;
 * 1 it is the address whose translation gave guest_physical_address (not
 * an access to a paging structure); 2 a hypercall's output is pending;
 * 3 TLB locked, no overlay. */
#define HV_X64_MEMORY_ACCESS_GVA_VALID		(1u << 0)
#define HV_X64_MEMORY_ACCESS_GVA_GPA_VALID	(1u << 1)
#define HV_X64_MEMORY_ACCESS_HYPERCALL_OUTPUT_PENDING (1u << 2)
#define HV_X64_MEMORY_ACCESS_TLB_LOCKED_NO_OVERLAY (1u << 3)

struct hv_x64_memory_intercept_message { /* HV_X64_MEMORY_INTERCEPT_MESSAGE */
	struct hv_x64_intercept_message_header header;
	uint32_t cache_type;		/* HV_CACHE_TYPE_* */
	uint8_t instruction_byte_count;	/* valid bytes in instruction_bytes */
	uint8_t memory_access_info;	/* HV_X64_MEMORY_ACCESS_* */
	uint8_t tpr_priority;
	uint8_t reserved1;
	uint64_t guest_virtual_address;
	uint64_t guest_physical_address;
	uint8_t instruction_bytes[16];	/* from the intercepted instruction's first byte */
} HV_PACKED;

/* ---- Layout checks: every size and offset the TLFS/REFERENCE.md gives ---- */

#ifdef __cplusplus
#define HV_STATIC_ASSERT static_assert
#else
#define HV_STATIC_ASSERT _Static_assert
#endif
#define HV_ASSERT_SIZE(type, size) \
	HV_STATIC_ASSERT(sizeof(type) == (size), "sizeof(" #type ") != " #size)
#define HV_ASSERT_OFFSET(type, field, off) \
	HV_STATIC_ASSERT(__builtin_offsetof(type, field) == (off), \
			 "offsetof(" #type ", " #field ") != " #off)

HV_ASSERT_SIZE(struct hv_u128, 16);
HV_ASSERT_SIZE(struct hv_proximity_domain_info, 8);
HV_ASSERT_OFFSET(struct hv_proximity_domain_info, flags, 4);
HV_ASSERT_SIZE(struct hv_x64_segment_register, 16);
HV_ASSERT_OFFSET(struct hv_x64_segment_register, limit, 8);
HV_ASSERT_OFFSET(struct hv_x64_segment_register, selector, 12);
HV_ASSERT_OFFSET(struct hv_x64_segment_register, attributes, 14);
HV_ASSERT_SIZE(struct hv_x64_table_register, 16);
HV_ASSERT_OFFSET(struct hv_x64_table_register, limit, 6);
HV_ASSERT_OFFSET(struct hv_x64_table_register, base, 8);
HV_ASSERT_SIZE(union hv_register_value, 16);
HV_ASSERT_SIZE(struct hv_register_assoc, 32);
HV_ASSERT_OFFSET(struct hv_register_assoc, reserved1, 4);
HV_ASSERT_OFFSET(struct hv_register_assoc, value, 16);

HV_ASSERT_SIZE(struct hv_input_create_partition, 56);
HV_ASSERT_OFFSET(struct hv_input_create_partition, flags, 0);
HV_ASSERT_OFFSET(struct hv_input_create_partition, proximity_domain_info, 8);
HV_ASSERT_OFFSET(struct hv_input_create_partition, compatibility_version, 16);
HV_ASSERT_OFFSET(struct hv_input_create_partition, padding, 20);
HV_ASSERT_OFFSET(struct hv_input_create_partition, disabled_processor_features, 24);
HV_ASSERT_OFFSET(struct hv_input_create_partition, disabled_processor_xsave_features, 40);
HV_ASSERT_OFFSET(struct hv_input_create_partition, isolation_properties, 48);
HV_ASSERT_SIZE(struct hv_output_create_partition, 8);
HV_ASSERT_SIZE(struct hv_input_initialize_partition, 8);
HV_ASSERT_SIZE(struct hv_input_finalize_partition, 8);
HV_ASSERT_SIZE(struct hv_input_delete_partition, 8);

HV_ASSERT_SIZE(struct hv_input_get_partition_property, 16);
HV_ASSERT_OFFSET(struct hv_input_get_partition_property, property_code, 8);
HV_ASSERT_OFFSET(struct hv_input_get_partition_property, padding, 12);
HV_ASSERT_SIZE(struct hv_output_get_partition_property, 8);
HV_ASSERT_SIZE(struct hv_input_set_partition_property, 24);
HV_ASSERT_OFFSET(struct hv_input_set_partition_property, property_code, 8);
HV_ASSERT_OFFSET(struct hv_input_set_partition_property, padding, 12);
HV_ASSERT_OFFSET(struct hv_input_set_partition_property, property_value, 16);
HV_ASSERT_SIZE(struct hv_output_get_partition_id, 8);

HV_ASSERT_SIZE(struct hv_input_deposit_memory, 8);
HV_ASSERT_SIZE(hv_gpa_page_number, 8);
HV_ASSERT_SIZE(struct hv_input_withdraw_memory, 16);
HV_ASSERT_OFFSET(struct hv_input_withdraw_memory, proximity_domain_info, 8);

HV_ASSERT_SIZE(struct hv_input_map_gpa_pages, 24);
HV_ASSERT_OFFSET(struct hv_input_map_gpa_pages, target_gpa_base, 8);
HV_ASSERT_OFFSET(struct hv_input_map_gpa_pages, map_flags, 16);
HV_ASSERT_OFFSET(struct hv_input_map_gpa_pages, padding, 20);
HV_ASSERT_SIZE(struct hv_input_unmap_gpa_pages, 24);
HV_ASSERT_OFFSET(struct hv_input_unmap_gpa_pages, target_gpa_base, 8);
HV_ASSERT_OFFSET(struct hv_input_unmap_gpa_pages, unmap_flags, 16);

HV_ASSERT_SIZE(struct hv_input_install_intercept, 24);
HV_ASSERT_OFFSET(struct hv_input_install_intercept, access_type, 8);
HV_ASSERT_OFFSET(struct hv_input_install_intercept, intercept_type, 12);
HV_ASSERT_OFFSET(struct hv_input_install_intercept, intercept_parameter, 16);

HV_ASSERT_SIZE(struct hv_input_create_vp, 40);
HV_ASSERT_OFFSET(struct hv_input_create_vp, vp_index, 8);
HV_ASSERT_OFFSET(struct hv_input_create_vp, padding, 12);
HV_ASSERT_OFFSET(struct hv_input_create_vp, subnode_type, 15);
HV_ASSERT_OFFSET(struct hv_input_create_vp, subnode_id, 16);
HV_ASSERT_OFFSET(struct hv_input_create_vp, proximity_domain_info, 24);
HV_ASSERT_OFFSET(struct hv_input_create_vp, flags, 32);

HV_ASSERT_SIZE(struct hv_input_get_vp_registers, 16);
HV_ASSERT_OFFSET(struct hv_input_get_vp_registers, vp_index, 8);
HV_ASSERT_OFFSET(struct hv_input_get_vp_registers, input_vtl, 12);
HV_ASSERT_OFFSET(struct hv_input_get_vp_registers, rsvd_z8, 13);
HV_ASSERT_SIZE(struct hv_input_set_vp_registers, 16);
HV_ASSERT_OFFSET(struct hv_input_set_vp_registers, vp_index, 8);
HV_ASSERT_OFFSET(struct hv_input_set_vp_registers, input_vtl, 12);
HV_ASSERT_SIZE(hv_register_name, 4);

HV_ASSERT_SIZE(struct hv_input_send_synthetic_cluster_ipi, 16);
HV_ASSERT_OFFSET(struct hv_input_send_synthetic_cluster_ipi, target_vtl, 4);
HV_ASSERT_OFFSET(struct hv_input_send_synthetic_cluster_ipi, processor_mask, 8);

HV_ASSERT_SIZE(struct hv_input_send_synthetic_cluster_ipi_ex, 24);
HV_ASSERT_OFFSET(struct hv_input_send_synthetic_cluster_ipi_ex, format, 8);
HV_ASSERT_SIZE(struct hv_initial_vp_context, 224);
HV_ASSERT_OFFSET(struct hv_initial_vp_context, idtr, 152);
HV_ASSERT_OFFSET(struct hv_initial_vp_context, efer, 184);
HV_ASSERT_SIZE(struct hv_input_start_virtual_processor, 240);
HV_ASSERT_OFFSET(struct hv_input_start_virtual_processor, vp_context, 16);

HV_ASSERT_SIZE(struct hv_input_delete_port, 16);
HV_ASSERT_OFFSET(struct hv_input_delete_port, port_id, 8);
HV_ASSERT_OFFSET(struct hv_input_delete_port, reserved, 12);
HV_ASSERT_SIZE(struct hv_input_disconnect_port, 16);
HV_ASSERT_OFFSET(struct hv_input_disconnect_port, connection_id, 8);
HV_ASSERT_OFFSET(struct hv_input_disconnect_port, flags, 12);

HV_ASSERT_SIZE(struct hv_input_post_message, 256);
HV_ASSERT_OFFSET(struct hv_input_post_message, reserved, 4);
HV_ASSERT_OFFSET(struct hv_input_post_message, message_type, 8);
HV_ASSERT_OFFSET(struct hv_input_post_message, payload_size, 12);
HV_ASSERT_OFFSET(struct hv_input_post_message, payload, 16);
HV_ASSERT_SIZE(struct hv_input_signal_event, 8);
HV_ASSERT_OFFSET(struct hv_input_signal_event, flag_number, 4);
HV_ASSERT_OFFSET(struct hv_input_signal_event, rsvd_z, 6);

HV_ASSERT_SIZE(struct hv_port_info, 24);
HV_ASSERT_OFFSET(struct hv_port_info, u, 8);
HV_ASSERT_SIZE(struct hv_connection_info, 32);
HV_ASSERT_OFFSET(struct hv_connection_info, u, 8);
HV_ASSERT_SIZE(struct hv_input_create_port, 56);
HV_ASSERT_OFFSET(struct hv_input_create_port, port_id, 8);
HV_ASSERT_OFFSET(struct hv_input_create_port, port_vtl, 12);
HV_ASSERT_OFFSET(struct hv_input_create_port, min_connection_vtl, 13);
HV_ASSERT_OFFSET(struct hv_input_create_port, padding, 14);
HV_ASSERT_OFFSET(struct hv_input_create_port, connection_partition_id, 16);
HV_ASSERT_OFFSET(struct hv_input_create_port, port_info, 24);
HV_ASSERT_OFFSET(struct hv_input_create_port, proximity_domain_info, 48);
HV_ASSERT_SIZE(struct hv_input_connect_port, 72);
HV_ASSERT_OFFSET(struct hv_input_connect_port, connection_id, 8);
HV_ASSERT_OFFSET(struct hv_input_connect_port, connection_vtl, 12);
HV_ASSERT_OFFSET(struct hv_input_connect_port, rsvd_z0, 13);
HV_ASSERT_OFFSET(struct hv_input_connect_port, rsvd_z1, 14);
HV_ASSERT_OFFSET(struct hv_input_connect_port, port_partition_id, 16);
HV_ASSERT_OFFSET(struct hv_input_connect_port, port_id, 24);
HV_ASSERT_OFFSET(struct hv_input_connect_port, rsvd_z2, 28);
HV_ASSERT_OFFSET(struct hv_input_connect_port, connection_info, 32);
HV_ASSERT_OFFSET(struct hv_input_connect_port, proximity_domain_info, 64);

HV_ASSERT_SIZE(struct hv_message_header, 16);
HV_ASSERT_OFFSET(struct hv_message_header, payload_size, 4);
HV_ASSERT_OFFSET(struct hv_message_header, message_flags, 5);
HV_ASSERT_OFFSET(struct hv_message_header, sender, 8);
HV_ASSERT_SIZE(struct hv_message, HV_MESSAGE_SIZE);

HV_ASSERT_SIZE(struct hv_x64_intercept_message_header, 40);
HV_ASSERT_OFFSET(struct hv_x64_intercept_message_header, instruction_length, 4);
HV_ASSERT_OFFSET(struct hv_x64_intercept_message_header, intercept_access_type, 5);
HV_ASSERT_OFFSET(struct hv_x64_intercept_message_header, execution_state, 6);
HV_ASSERT_OFFSET(struct hv_x64_intercept_message_header, cs_segment, 8);
HV_ASSERT_OFFSET(struct hv_x64_intercept_message_header, rip, 24);
HV_ASSERT_OFFSET(struct hv_x64_intercept_message_header, rflags, 32);
HV_ASSERT_SIZE(struct hv_x64_io_port_intercept_message, 128);
HV_ASSERT_OFFSET(struct hv_x64_io_port_intercept_message, port_number, 40);
HV_ASSERT_OFFSET(struct hv_x64_io_port_intercept_message, access_info, 42);
HV_ASSERT_OFFSET(struct hv_x64_io_port_intercept_message, instruction_byte_count, 43);
HV_ASSERT_OFFSET(struct hv_x64_io_port_intercept_message, rax, 48);
HV_ASSERT_OFFSET(struct hv_x64_io_port_intercept_message, instruction_bytes, 56);
HV_ASSERT_OFFSET(struct hv_x64_io_port_intercept_message, ds_segment, 72);
HV_ASSERT_OFFSET(struct hv_x64_io_port_intercept_message, es_segment, 88);
HV_ASSERT_OFFSET(struct hv_x64_io_port_intercept_message, rcx, 104);
HV_ASSERT_OFFSET(struct hv_x64_io_port_intercept_message, rdi, 120);
HV_ASSERT_SIZE(struct hv_x64_memory_intercept_message, 80);
HV_ASSERT_OFFSET(struct hv_x64_memory_intercept_message, cache_type, 40);
HV_ASSERT_OFFSET(struct hv_x64_memory_intercept_message, instruction_byte_count, 44);
HV_ASSERT_OFFSET(struct hv_x64_memory_intercept_message, memory_access_info, 45);
HV_ASSERT_OFFSET(struct hv_x64_memory_intercept_message, tpr_priority, 46);
HV_ASSERT_OFFSET(struct hv_x64_memory_intercept_message, guest_virtual_address, 48);
HV_ASSERT_OFFSET(struct hv_x64_memory_intercept_message, guest_physical_address, 56);
HV_ASSERT_OFFSET(struct hv_x64_memory_intercept_message, instruction_bytes, 64);

#endif
