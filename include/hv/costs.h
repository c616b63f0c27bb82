/* Instruction cost classes and the fw_cfg file that publishes a profile's
 * costs to guests.  Shared by the simulator (sim/cpu/profile.h) and guest
 * test kernels, which predict RDTSC deltas from it.
 *
 * fw_cfg file HV_FWCFG_COSTS_FILE, little endian: u32 count N, N u32 costs
 * indexed by enum cost_class, then the LP clock as a u64 in kHz. */
#ifndef HV_COSTS_H
#define HV_COSTS_H

#define HV_FWCFG_COSTS_FILE "opt/hvsim/costs"
/* The local APIC timer's input clock as a u64 in kHz (little endian), so
 * a test kernel can predict timer expiries in TSC cycles. */
#define HV_FWCFG_APIC_TIMER_FILE "opt/hvsim/apic-timer-khz"

/* Instruction classes priced by the profile (key in YAML `costs:`). */
enum cost_class {
	COST_ALU,	/* alu: integer add/sub/logic/shift/mov reg-reg, lea, setcc, cmov */
	COST_MUL,	/* mul: integer multiply */
	COST_DIV,	/* div: integer divide */
	COST_LOAD,	/* load: extra for an instruction reading memory (L1 hit) */
	COST_STORE,	/* store: extra for an instruction writing memory */
	COST_BRANCH,	/* branch: jmp/jcc/loop */
	COST_CALL,	/* call */
	COST_RET,	/* ret */
	COST_STACK,	/* stack: push/pop */
	COST_STRING,	/* string: movs/stos/lods/cmps/scas, per execution */
	COST_FP,	/* fp: x87 */
	COST_SIMD,	/* simd: SSE/AVX */
	COST_SERIAL,	/* serial: cpuid, serialising and system instructions */
	COST_MSR,	/* msr: rdmsr/wrmsr */
	COST_TSC,	/* tsc: rdtsc/rdtscp */
	COST_IO,	/* io: in/out (device time is added by the device) */
	COST_INT,	/* int: software interrupt, iret, exception delivery */
	COST_NOP,	/* nop: nop, pause hint excluded */
	COST_PAUSE,	/* pause */
	COST_HLT,	/* hlt (the instruction itself; idle time is separate) */
	COST_OTHER,	/* other: anything not classified above */
	COST_NCLASSES
};

#endif
