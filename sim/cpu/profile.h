/* Microarchitecture profile: clock, per-class instruction costs, CPUID
 * table and implemented MSRs, loaded from a YAML file
 * (sim/cpu/profiles/<name>.yaml).  Every number in a shipped profile names
 * its source in the file. */
#ifndef SIM_CPU_PROFILE_H
#define SIM_CPU_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "hv/costs.h"

const char *cost_class_name(enum cost_class c);	/* YAML key, e.g. "alu" */

struct profile_cpuid {
	uint32_t leaf, subleaf;
	int any_subleaf;	/* 1: entry applies to every subleaf */
	uint32_t eax, ebx, ecx, edx;
};

#define PROFILE_MSR_RO 0x1	/* any write raises #GP */

struct profile_msr {
	uint32_t index;
	char name[40];
	uint64_t reset;		/* value at reset */
	uint64_t write_mask;	/* bits software may change; a write that changes others raises #GP */
	uint32_t flags;		/* PROFILE_MSR_* */
};

/* VMX transition and instruction costs (profile key vmx_costs). */
enum vmx_cost {
	VMX_COST_EXIT,		/* vm_exit: VM exit, hardware part */
	VMX_COST_ENTRY,		/* vm_entry: VMLAUNCH/VMRESUME to the first guest instruction */
	VMX_COST_VMREAD,
	VMX_COST_VMWRITE,
	VMX_COST_VMPTRLD,
	VMX_COST_VMPTRST,
	VMX_COST_VMCLEAR,
	VMX_COST_VMXON,
	VMX_COST_VMXOFF,
	VMX_COST_INVEPT,
	VMX_COST_INVVPID,
	VMX_COST_EPT_ENTRY,	/* ept_entry: one EPT paging-structure entry read on a TLB miss */
	VMX_NCOSTS
};

#define PROFILE_APIC_TIMER_KHZ_DEFAULT 100000	/* a 100 MHz bus clock */

struct cpu_profile {
	char name[48];
	char description[160];
	uint64_t freq_khz;		/* core clock = TSC rate */
	uint64_t apic_timer_khz;	/* the LAPIC timer's input (bus) clock */
	uint32_t cost[COST_NCLASSES];	/* cycles */
	struct profile_cpuid *cpuid;
	size_t ncpuid;
	struct profile_msr *msrs;
	size_t nmsrs;
	int has_vmx;			/* vmx_costs given */
	uint32_t vmx_cost[VMX_NCOSTS];	/* cycles */
};

/* Load from a file; on error prints "file:line:col: reason" and returns
 * -EINVAL (bad content) or -errno (I/O). */
int profile_load(const char *path, struct cpu_profile **out);
/* Same from memory; `name` is used in messages in place of a file name. */
int profile_load_string(const char *text, size_t len, const char *name, struct cpu_profile **out);
void profile_free(struct cpu_profile *p);

const struct profile_msr *profile_find_msr(const struct cpu_profile *p, uint32_t index);
/* CPUID as the profile answers it.  Leaves above the maximum basic (or
 * extended) leaf answer as the highest basic leaf does, as Intel CPUs do
 * (SDM Vol. 2A, CPUID, "INPUT EAX = 0"). */
void profile_cpuid(const struct cpu_profile *p, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

#endif
