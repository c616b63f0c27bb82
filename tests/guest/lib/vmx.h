/* VMX helpers for freestanding guest tests that act as a hypervisor on
 * the bare platform (SDM Vol. 3C; constants from include/hv/vmx.h). */
#ifndef GUEST_VMX_H
#define GUEST_VMX_H

#include "guest.h"
#include "hv/vmx.h"

#define CR4_VMXE (1ull << 13)

/* Outcome of a VMX instruction: 0 VMsucceed, 1 VMfailInvalid (CF),
 * 2 VMfailValid (ZF), or 0x100 | vector if it raised an exception. */
#define VMX_FAIL_INVALID 1
#define VMX_FAIL_VALID 2
#define VMX_EXC(v) (0x100 | (v))

static inline int vmx_flags_result(uint64_t fl)
{
	if (fl & 1)
		return VMX_FAIL_INVALID;
	if (fl & 0x40)
		return VMX_FAIL_VALID;
	return 0;
}

#define VMX_OP_MEM(name, insn)                                                     \
	static inline int name(uint64_t pa)                                        \
	{                                                                          \
		uint64_t fl = 0;                                                   \
		exc_reset();                                                       \
		asm volatile("1: " insn " %1\n2: pushfq; pop %0\n\t" EX_TABLE("1b", "2b") \
			     : "+r"(fl) : "m"(pa) : "memory", "cc");              \
		if (exc_last.vector != EXC_NONE)                                   \
			return VMX_EXC(exc_last.vector);                           \
		return vmx_flags_result(fl);                                       \
	}
VMX_OP_MEM(vmxon, "vmxon")
VMX_OP_MEM(vmclear, "vmclear")
VMX_OP_MEM(vmptrld, "vmptrld")

static inline int vmptrst(uint64_t *pa)
{
	uint64_t fl = 0;

	exc_reset();
	asm volatile("1: vmptrst %1\n2: pushfq; pop %0\n\t" EX_TABLE("1b", "2b")
		     : "+r"(fl), "=m"(*pa) : : "memory", "cc");
	if (exc_last.vector != EXC_NONE)
		return VMX_EXC(exc_last.vector);
	return vmx_flags_result(fl);
}

static inline int vmxoff(void)
{
	uint64_t fl = 0;

	exc_reset();
	asm volatile("1: vmxoff\n2: pushfq; pop %0\n\t" EX_TABLE("1b", "2b") : "+r"(fl) : : "memory", "cc");
	if (exc_last.vector != EXC_NONE)
		return VMX_EXC(exc_last.vector);
	return vmx_flags_result(fl);
}

static inline int vmread_safe(uint64_t field, uint64_t *val)
{
	uint64_t fl = 0, v = 0;

	exc_reset();
	asm volatile("1: vmread %2, %1\n2: pushfq; pop %0\n\t" EX_TABLE("1b", "2b")
		     : "+r"(fl), "+r"(v) : "r"(field) : "memory", "cc");
	*val = v;
	if (exc_last.vector != EXC_NONE)
		return VMX_EXC(exc_last.vector);
	return vmx_flags_result(fl);
}

static inline int vmwrite_safe(uint64_t field, uint64_t val)
{
	uint64_t fl = 0;

	exc_reset();
	asm volatile("1: vmwrite %2, %1\n2: pushfq; pop %0\n\t" EX_TABLE("1b", "2b")
		     : "+r"(fl) : "r"(field), "rm"(val) : "memory", "cc");
	if (exc_last.vector != EXC_NONE)
		return VMX_EXC(exc_last.vector);
	return vmx_flags_result(fl);
}

/* INVEPT / INVVPID with a 128-bit descriptor (SDM Vol. 3C 31.3, figures
 * "INVEPT Descriptor" and "INVVPID Descriptor"); the type is the full
 * 64-bit register operand.  Same result encoding as vmxon(). */
static inline int vmx_inv(int vpid_form, uint64_t type, uint64_t lo, uint64_t hi)
{
	struct {
		uint64_t lo, hi;
	} __attribute__((aligned(16))) desc = { lo, hi };
	uint64_t fl = 0;

	exc_reset();
	if (vpid_form)
		asm volatile("1: invvpid %2, %1\n2: pushfq; pop %0\n\t" EX_TABLE("1b", "2b")
			     : "+r"(fl) : "r"(type), "m"(desc) : "memory", "cc");
	else
		asm volatile("1: invept %2, %1\n2: pushfq; pop %0\n\t" EX_TABLE("1b", "2b")
			     : "+r"(fl) : "r"(type), "m"(desc) : "memory", "cc");
	if (exc_last.vector != EXC_NONE)
		return VMX_EXC(exc_last.vector);
	return vmx_flags_result(fl);
}

/* INVEPT: descriptor bits 63:0 the EPTP, 127:64 reserved (0). */
static inline int invept(uint64_t type, uint64_t eptp)
{
	return vmx_inv(0, type, eptp, 0);
}

/* INVVPID: descriptor bits 15:0 the VPID, 63:16 reserved, 127:64 the
 * linear address (individual-address type). */
static inline int invvpid(uint64_t type, uint64_t vpid, uint64_t gla)
{
	return vmx_inv(1, type, vpid, gla);
}

static inline uint64_t vmread(uint64_t field)
{
	uint64_t v;

	vmread_safe(field, &v);
	return v;
}

static inline void vmwrite(uint64_t field, uint64_t val)
{
	vmwrite_safe(field, val);
}

/* 0 after a VM exit; VMX_FAIL_* if the entry instruction failed. */
int vmx_enter(int resume);

/* Asm macro GUEST_RIP_SKIP, for a host's exit handler in asm: GUEST_RIP
 * += the exit's instruction length (SDM 28.2.4 instruction length, 24.4.1
 * guest RIP), so that VMRESUME goes on after the instruction.  It
 * changes RAX, RCX, RDX and the flags. */
#define VMX_GUEST_RIP_SKIP_MACRO				\
	".macro GUEST_RIP_SKIP\n"				\
	"	mov $0x681e, %ecx\n"		/* VMCS_GUEST_RIP */	\
	"	vmread %rcx, %rax\n"					\
	"	mov $0x440c, %ecx\n"		/* VMCS_EXIT_INSTRUCTION_LEN */ \
	"	vmread %rcx, %rdx\n"					\
	"	add %rdx, %rax\n"					\
	"	mov $0x681e, %ecx\n"					\
	"	vmwrite %rax, %rcx\n"					\
	".endm\n"

/* The lib's VMXON region and one VMCS, 4 KiB aligned. */
extern uint8_t vmx_vmxon_region[4096];
extern uint8_t vmx_vmcs_region[4096];

/* FEATURE_CONTROL locked with VMX outside SMX, CR4.VMXE, VMXON.
 * Returns 0 or the failing step's result. */
int vmx_on(void);
/* VMCLEAR + VMPTRLD of vmx_vmcs_region and a VMCS for a 64-bit guest
 * running `entry` on `stack` with the host's page tables, GDT and IDT;
 * controls at their must-be-1 settings from the TRUE MSRs. */
void vmx_setup_vmcs(void (*entry)(void), void *stack_top);
uint32_t vmx_ctl(uint32_t msr, uint32_t want);	/* must1 | want, limited to allowed-1 */

/* The EPTP of an EPT identity map of the low 4 GiB (2 MiB pages, read,
 * write, execute, write-back; SDM 29.3.2), built on first use: the
 * guest-physical address space is the host's.  0 if IA32_VMX_EPT_VPID_CAP
 * lacks 4-level walks, 2 MiB pages or the WB memory type. */
uint64_t vmx_ept_identity(void);
/* The EPT PDE of that map for the 2 MiB page holding `gpa` (< 4 GiB), for
 * a test to remap or unmap it (then INVEPT, and put it back). */
uint64_t *vmx_ept_identity_pde(uint64_t gpa);
/* "Enable EPT" (the identity map) and "unrestricted guest" on the
 * current VMCS, with the secondary controls activated. */
void vmx_set_unrestricted(void);
/* Guest state for real mode on the current VMCS (SDM 20.1): CS = cs with
 * base cs << 4, IP = ip, SS:SP = 0:sp, DS = ES = FS = GS = 0, 64-KiB
 * limits, present read/write data or execute/read code segments of DPL 0,
 * the IVT at `ivt`, a busy TSS at 0, no LDT, CR0 = the FIXED0 bits but PE
 * and PG, CR4 = CR4_FIXED0, IA32_EFER = 0 through "load IA32_EFER", and
 * "IA-32e mode guest" off. */
void vmx_guest_real_mode(uint16_t cs, uint16_t ip, uint16_t sp, uint32_t ivt);

#endif
