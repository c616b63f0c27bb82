/* VM-entry checks on the guest-state area that depend on nothing but
 * VMCS field values and capability MSRs (SDM Vol. 3C 27.3.1.1 "Checks
 * on Guest Control Registers, Debug Registers, and MSRs" for CR0, and
 * 27.3.1.2 "Checks on Guest Segment Registers").
 *
 * Pure and host-side: no Unicorn, no CPU state, nothing allocated or
 * printed; vmx.c calls them from check_guest() and the unit tests call
 * them directly.  Each returns NULL when the fields pass, or the SDM rule
 * the first failing check implements (a VM-entry failure with exit
 * reason 33, "invalid guest state", qualification 0). */
#ifndef SIM_CPU_VMX_CHECK_H
#define SIM_CPU_VMX_CHECK_H

#include <stdint.h>

/* One guest segment register as the VMCS holds it (SDM 25.4.1). */
struct vmx_check_seg {
	uint16_t sel;
	uint64_t base;
	uint32_t limit;
	uint32_t ar;		/* access rights, VMX_AR_* (hv/vmx.h) */
};

/* Index into vmx_check_guest.seg: the VMCS order ES, CS, SS, DS, FS,
 * GS, LDTR, TR (SDM Appendix B). */
enum { VMX_CHECK_ES, VMX_CHECK_CS, VMX_CHECK_SS, VMX_CHECK_DS, VMX_CHECK_FS, VMX_CHECK_GS, VMX_CHECK_LDTR,
       VMX_CHECK_TR, VMX_CHECK_NSEGS };

/* The fields and controls the segment-register checks read. */
struct vmx_check_guest {
	struct vmx_check_seg seg[VMX_CHECK_NSEGS];
	uint64_t cr0;		/* guest CR0 field: PE decides the SS.DPL rule */
	uint64_t rflags;	/* guest RFLAGS field: VM = virtual-8086 guest */
	int ia32e;		/* the "IA-32e mode guest" VM-entry control */
	int unrestricted;	/* the "unrestricted guest" VM-execution control, as in effect */
};

/* The CR0 field against IA32_VMX_CR0_FIXED0/FIXED1 (SDM 23.8, A.7):
 * PE and PG are not checked when "unrestricted guest" is 1, NW and CD
 * never; and PG = 1 needs PE = 1. */
const char *vmx_check_guest_cr0(uint64_t cr0, uint64_t fixed0, uint64_t fixed1, int unrestricted);

/* Selector, base, limit and access-rights checks of 27.3.1.2, for
 * virtual-8086 guests and others, with and without "unrestricted
 * guest". */
const char *vmx_check_guest_segments(const struct vmx_check_guest *g);

#endif
