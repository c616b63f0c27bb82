/* Internals of the CPU model shared by cpu.c and vmx.c (sim/cpu only). */
#ifndef SIM_CPU_CPU_PRIV_H
#define SIM_CPU_CPU_PRIV_H

#include <stdint.h>
#include <unicorn/unicorn.h>

#include "align.h"
#include "apic.h"
#include "cost.h"
#include "hv/marker.h"
#include "cpu.h"
#include "cpu_state.h"
#include "vmcs.h"

#define CR0_PE (1ull << 0)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR4_VME (1ull << 0)
#define CR4_PVI (1ull << 1)
#define CR4_DE (1ull << 3)
#define CR4_MCE (1ull << 6)
#define CR4_PGE (1ull << 7)
#define CR4_PCE (1ull << 8)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_OSXSAVE (1ull << 18)
#define XCR0_X87 (1ull << 0)		/* XCR0 state components (SDM Vol. 1 13.1) */
#define XCR0_SSE (1ull << 1)
#define XCR0_AVX (1ull << 2)
#define CR4_VMXE (1ull << 13)
#define CR0_WP (1ull << 16)
#define CR0_AM (1ull << 18)
#define CR0_PG (1ull << 31)
#define CR4_TSD (1ull << 2)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define RFLAGS_TF (1ull << 8)
#define DR6_BS (1ull << 14)
#define DR6_FIXED1 0xFFFF0FF0ull	/* reads as 1 (SDM Vol. 3 17.2.3) */
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_NT (1ull << 14)
#define RFLAGS_RF (1ull << 16)
#define RFLAGS_VM (1ull << 17)
#define RFLAGS_AC (1ull << 18)

/* Exception vectors (SDM Vol. 3 6.3.1). */
enum {
	VEC_DE = 0, VEC_DB = 1, VEC_NMI = 2, VEC_BP = 3, VEC_OF = 4, VEC_BR = 5, VEC_UD = 6,
	VEC_NM = 7, VEC_DF = 8, VEC_TS = 10, VEC_NP = 11, VEC_SS = 12, VEC_GP = 13, VEC_PF = 14,
	VEC_MF = 16, VEC_AC = 17, VEC_MC = 18, VEC_XM = 19, VEC_VE = 20, VEC_CP = 21,
};

#define MSR_IA32_TSC 0x10
#define MSR_IA32_TSC_ADJUST 0x3b
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_PAT 0x277
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MISC_ENABLE_LIMIT_CPUID (1ull << 22)
#define MISC_ENABLE_XD_DISABLE (1ull << 34)
#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_FMASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX 0xc0000103

/* A priced block, cached by (linear address, size). */
struct block {
	uint64_t addr;
	uint32_t size;
	uint32_t ninsn;
	uint32_t flags;			/* COST_BLOCK_* */
	uint64_t cycles;
	struct cost_block *detail;	/* only when the block has sites */
};

struct site {
	uint64_t addr;
	uint8_t kind, size;
	uint16_t marker, marker_reg;	/* SITE_MARKER (cost.h) */
};

#define MAX_OPEN_BUS_PAGES 256
#define CPU_CODE_BUFFER (16u << 20)	/* bytes of host code per engine (cpu_engine_open) */

/* One Unicorn engine with its own translations, priced blocks and site
 * hooks.  An LP has two: VMX root mode and non-root mode run in different
 * engines (DESIGN.md "Engines"), so neither flushes the other's caches. */
/* A page in the model's TLB (vmx.c "TLB misses"). */
struct tlb_mark {
	uint64_t key;			/* page number + 1; 0 = never used */
	uint32_t gen;			/* the engine's charged_gen when entered */
};

struct engine {
	uc_engine *uc;
	struct cpu_ctx *ctx;
	struct block *blocks;		/* open addressing, power of two */
	size_t nblocks, cap;
	struct site *sites;		/* open addressing */
	size_t nsites, site_cap;
	unsigned open_bus_pages;
	uint64_t *mmio_at;		/* per memmap region: where it is mapped here, ~0 = nowhere */
	size_t nmmio;
	uc_hook hooks[8];
	/* non-root engines only (vmx.c) */
	uint64_t vmcs;			/* the VMCS whose guest runs here */
	uint64_t last_used;		/* VM entries on this LP at its last use */
	uint64_t tlb_eptp;		/* EPTP and VPID its TLB entries were made under */
	uint16_t tlb_vpid;
	int tlb_valid;
	/* Pages whose translation was charged since this engine's cached
	 * translations were last dropped (vmx.c "TLB misses"): the slots
	 * of generation charged_gen; a drop starts the next generation. */
	struct tlb_mark *charged;
	uint32_t ncharged, charged_cap, charged_gen;
	uint64_t dr7;			/* the architectural DR7 (cpu_set_dr7) */
	uint64_t xcr0;			/* XCR0 in this engine (vmx.c copy_shared) */
	uint64_t tlb_apic;		/* ... and APIC-access page (vmx.c x->apic_access) */
	uc_hook ac_hook;		/* alignment checking's code hook (cpu.c) ... */
	int ac_on;			/* ... installed: CPL 3 and RFLAGS.AC */
	uint64_t ac_stale_lo, ac_stale_hi;	/* a block translated without it, to drop */
};

#define VMX_GUEST_ENGINES 8		/* non-root engines kept per LP */

/* A VM exit or guest event found inside a hook, carried out by the run
 * loop once the engine has stopped (vmx.c). */
struct vmx_pending {
	int exit;			/* a VM exit to take */
	uint32_t reason;
	uint64_t qual, rip, gla, gpa;
	uint32_t len, info;
	uint32_t intr_info, intr_err;	/* exception or NMI exits */
	int has_gla, has_gpa, has_len;
	uint64_t rax;			/* IN: RAX before the engine ran it */
	int restore_rax;
	uint64_t rcx, rsi, rdi;		/* INS/OUTS: the same for their registers */
	int restore_str;
	int pf;				/* a guest page fault to deliver */
	int noncanonical;		/* ... or a #GP(0) for a non-canonical address */
	uint64_t pf_addr;
	uint32_t pf_err;
	int ept_fail;			/* TLB fill found an EPT violation/misconfig */
	int fetch;			/* ... for an instruction fetch */
	int apic;			/* TLB fill reached the APIC-access page */
	int trap;			/* a trap-like exit: the instruction completed */
};

/* What the hypervisor's markers said (marks.c). */
struct cpu_marks {
	uint64_t partition;	/* HV_MARK_RUN_VP: the VP the LP runs */
	uint32_t vp;
	int vp_known;
	int hc;			/* the hypercall in flight: marks.c HC_* */
	int in_exit;		/* between a VM exit (t_exit) and the next VM entry */
	uint64_t t_exit, t_exit_end, t_body, t_body_end;
	struct hv_mark_hypercall rec;
};

/* VMX operation of one LP (SDM Vol. 3C ch. 23-29); vmx.c. */
struct vmx {
	int supported;			/* CPUID.1:ECX.VMX in the profile */
	int on;				/* in VMX operation (after VMXON) */
	int nonroot;			/* executing in VMX non-root operation */
	uint64_t vmxon_ptr;
	uint64_t current;		/* current-VMCS pointer; ~0 = none */
	struct vmcs vmcs;		/* cached contents of the current VMCS */
	uint8_t launched;		/* its launch state */
	uint32_t revision;		/* VMCS revision identifier */
	unsigned maxphyaddr;
	uint64_t apic_access;		/* APIC-access page in effect, ~0 = not virtualised */
	uint64_t cap[18];		/* IA32_VMX_BASIC .. IA32_VMX_VMFUNC as reported */
	uint32_t costs[16];		/* profile vmx costs (enum vmx_cost) */
	struct engine guests[VMX_GUEST_ENGINES];
	uint64_t nentries;
	uint64_t entry_begin;		/* LP cycle the last VM entry began */
	uint64_t exit_start;		/* LP cycle of the last exit (per-reason cycles) */
	unsigned last_reason;
	int64_t preempt_deadline;	/* LP cycle the preemption timer fires, or -1 */
	struct vmx_pending p;
	uint64_t pdpte[4];		/* PAE guests: PDPTE registers (SDM 4.4.1) */
	uint64_t pdpte_cr3;		/* CR3 they were loaded from, ~0 = from the VMCS */
	int fill_uncharged;		/* the TLB fill in progress is not priced */
	int host_fill;			/* ... nor any while Unicorn fills for itself (cpu.c ac_update) */
	int peek;			/* a translation for the model's own read (cpu_lin_peek) */
	uint64_t pending_dbg;		/* pending debug exceptions from VM entry, not yet raised */
	int forced_tf;			/* RFLAGS.TF set by the model to raise them */
	unsigned ept_perms;		/* EPT R/W/X of the last translation */
	int ept_dirty;			/* ... may serve writes without an A/D update */
	int guest_halted;		/* non-root activity state: 0 active, 1 HLT, 3 wait-for-SIPI */
	int nmi_blocked;		/* guest (virtual-)NMI blocking, until IRET */
	int injecting;			/* delivering an injected event: not intercepted */
	uint32_t vectoring;		/* event being delivered (IDT-vectoring info), 0 = none */
	uint32_t vectoring_err;
	void *cs;			/* Capstone handle for VMX instruction operands */
	struct cpu_vmx_stats st;
};

/* An interrupt acknowledged and not yet at its handler or EOI (intr.c). */
struct cpu_irq_flight {
	int valid, exited;
	int hv_own;		/* exited for the hypervisor itself (a kick): its handler is the exit's */
	uint8_t kind, pin;
	uint64_t assert_ps, route_ps, accept_ps, ack_ps, exit_done_ps, entry_ps, handler_ps;
};

struct cpu {
	unsigned index, nlps;
	const struct cpu_profile *prof;
	struct memmap *mem;
	struct engine root;		/* VMX root mode / no VMX: the LP itself */
	struct engine guest;		/* VMX non-root mode (vmx.c) */
	struct engine *e;		/* the one executing */
	struct cpu_marks marks;
	struct cpu_hv_stats hv;
	struct trace_writer *trace;	/* event sink, or NULL */
	const struct cpu_observer *observer;	/* cpu_set_observer(), or NULL */
	struct cpu_observer observer_copy;
	struct cost_model *cm;
	enum cpu_run_state state;
	char shutdown_reason[160];

	uint64_t cycles;		/* LP clock */
	uint64_t until;			/* cpu_run budget */
	uint64_t block_start;		/* cycles before the current block */
	struct block cur;		/* the block executing (a copy: the table may grow) */
	/* After an emulated site the engine resumes at the next instruction
	 * in a new block that continues the current one: not charged again. */
	uint64_t cont_addr;
	uint32_t cont_end_cycles, cont_index;
	int stop_req;			/* cpu_request_stop() */
	int ac_next;			/* look at alignment checking at the next block (COST_BLOCK_AC) */
	int stopping;			/* we called uc_emu_stop() */
	uint64_t stop_addr;		/* block whose hook stopped the engine, or 0 */

	/* work handed from a hook to the run loop */
	int flush;			/* retranslate [flush_lo, flush_hi) */
	uint64_t flush_lo, flush_hi;
	int fault_pending;		/* Unicorn reported a fault or INT n */
	unsigned fault_vec;
	int invlpg_pending;		/* an INVLPG to complete */
	uint64_t invlpg_addr;
	unsigned invlpg_size;
	int raise_pending;		/* a site raised an exception */
	unsigned raise_vec;
	uint32_t raise_err;
	int syscall_pending;		/* a SYSCALL to carry out (syscall_complete) */
	uint64_t syscall_rip;		/* its address */
	int io_at_valid;		/* io_at holds the time of this block's current IN/OUT */
	uint64_t io_at;			/* cycles at that instruction: what the device sees */


	/* interrupts (intr.c) */
	struct lapic *lapic;		/* NULL: no interrupt controller */
	int irq_hint;			/* the LAPIC kicked: look at the next boundary */
	int if_clear;			/* RFLAGS.IF seen 0 and no block since could set it */
	unsigned apic_ev;		/* LAPIC_EV_* taken from the LAPIC, not yet acted on */
	uint8_t sipi_vector;
	int nmi_blocked;		/* root/legacy NMI blocking, until IRET */
	uint64_t movss_next;		/* linear address a MOV SS shadow covers */
	uint64_t dr6;			/* the architectural DR6 (cpu.c "Debug registers") */
	uint32_t db_bits;		/* the #DB being raised: DR6-style B0-B3, BS */
	uint64_t apic_page;		/* where the xAPIC page is mapped, ~0 = nowhere */
	int apic_remap;			/* IA32_APIC_BASE moved it: remap (intr_remap) */
	const uint64_t *mmio_gen;	/* the memory map's MMIO generation ... */
	uint64_t mmio_seen;		/* ... the engines were last mapped at (cpu_mmio_sync) */
	struct cpu_irq_flight flight[256];
	struct cpu_irq_stats irq;
	struct vflight_book *vflights;	/* synintr.c: the machine's (cpu_config) */
	int own_vflights;		/* ... or this LP's own */

	uint64_t cr4_valid;		/* CR4 bits the CPU has; the rest #GP */
	unsigned maxphyaddr;
	uint64_t xcr0;			/* XCR0 (SDM Vol. 1 13.3); engines hold copies */
	int monitor_armed;		/* a MONITOR armed the monitoring hardware (cpu.c) */
	uint64_t monitor_addr;		/* ... for this linear address */
	uint64_t xcr0_valid;		/* state components XSETBV may enable (CPUID 0DH.0) */

	int64_t tsc_offset;		/* IA32_TSC = cycles + tsc_offset */
	uint64_t *msr;			/* values of profile MSRs not held by Unicorn */
	int debug;			/* HVSIM_DEBUG=exceptions: trace deliveries */
	struct align_checker *align;	/* #AC decoder (align.h), made on first use */
	struct cpu_stats st;
	struct vmx vmx;
};

/* Hardware exceptions, software interrupts (INT n, INT3, INTO), and
 * external interrupts and NMIs, which never push an error code and never
 * consult the exception bitmap. */
enum { EV_HW, EV_SOFT, EV_EXT };


/* Does exception `vec` push an error code (SDM Vol. 3 6.13)? */
static inline int cpu_has_error_code(unsigned vec)
{
	return vec == VEC_DF || (vec >= VEC_TS && vec <= VEC_PF) || vec == VEC_AC || vec == VEC_CP;
}

static inline uint64_t reg(struct cpu *c, int r)
{
	uint64_t v = 0;

	uc_reg_read(c->e->uc, r, &v);
	return v;
}

static inline void set_reg(struct cpu *c, int r, uint64_t v)
{
	uc_reg_write(c->e->uc, r, &v);
}

/* CR2 as a page fault loads it (SDM Vol. 3A 4.7), through the context:
 * Unicorn 2.1.1's register write for CR2 falls through to CR3's case
 * (qemu/target/i386/unicorn.c) and would load CR3 and flush the TLB. */
static inline void set_cr2(struct cpu *c, uint64_t v)
{
	cpu_ctx_set_cr2(c->e->ctx, v);
}

static inline void stop_engine(struct cpu *c)
{
	c->stopping = 1;
	uc_emu_stop(c->e->uc);
}

/* cpu.c */
void cpu_shutdown(struct cpu *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
unsigned cpu_cpl(struct cpu *c);
int cpu_lin_access(struct cpu *c, uint64_t lin, void *buf, size_t n, int write, uint32_t *err, uint64_t *fault_lin);
/* The model's own read of guest memory (instruction bytes to decode,
 * records to trace, memory to show): as cpu_lin_access (fetch: checked as
 * an instruction fetch) but with no effect a guest could observe: no
 * cycles, no statistics, no entry in the model's TLB, no accessed or
 * dirty flag, no exit left pending.  0, or non-zero if not readable. */
int cpu_lin_peek(struct cpu *c, uint64_t lin, void *buf, size_t n, int fetch);
void cpu_raise_event(struct cpu *c, unsigned vec, int kind, uint32_t errc, uint64_t rip);
void cpu_raise_fault(struct cpu *c, unsigned vec, uint32_t errc);
void cpu_raise_from_hook(struct cpu *c, unsigned vec, uint32_t errc);
void cpu_charge_to_site(struct cpu *c, uint64_t addr, int done);
/* Capstone register -> GPR number 0-15 and Unicorn register; -1 if the
 * register is not a general-purpose one. */
int cpu_cs_gpr(unsigned r, int *ucr);

/* Markers (marks.c): one seen at `cycle`; VM exits and entries as vmx.c
 * takes them; the VP the LP runs, for trace events. */
void marks_marker(struct cpu *c, unsigned id, uint64_t value, uint64_t cycle);
void marks_vm_exit(struct cpu *c, unsigned basic, uint64_t start, uint64_t end);
void marks_vm_entry(struct cpu *c, uint64_t end);
void marks_current(const struct cpu *c, uint32_t *partition, uint32_t *vp);
void marks_free(struct cpu *c);
int cpu_msr_read(struct cpu *c, uint32_t idx, uint64_t *v, uint64_t site);
int cpu_msr_write(struct cpu *c, uint32_t idx, uint64_t v, uint64_t site);
uint64_t cpu_engine_msr(struct cpu *c, uint32_t idx);
uint64_t cpu_rip_linear(struct cpu *c, uint64_t rip);
uint64_t cpu_tsc_now(struct cpu *c, uint64_t site_addr);
void cpu_continue_after_site(struct cpu *c, uint64_t addr, unsigned size);
int cpu_engine_open(struct cpu *c, struct engine *e, int guest);
void cpu_engine_close(struct engine *e);
int msr_in_engine(uint32_t idx);
/* DR7 as software sees it; Unicorn gets it without the breakpoint
 * enables (cpu.c "Debug registers"). */
void cpu_set_dr7(struct engine *e, uint64_t v);

/* intr.c */
int intr_init(struct cpu *c, struct lapic *l);
void intr_free(struct cpu *c);
void intr_engine_opened(struct cpu *c, struct engine *e);
int intr_block_check(struct cpu *c);
int intr_service(struct cpu *c);
void intr_remap(struct cpu *c);
int intr_msr_read(struct cpu *c, uint32_t idx, uint64_t *v, int *gp);
int intr_msr_write(struct cpu *c, uint32_t idx, uint64_t v, int *gp);
int intr_cr8(struct cpu *c, int write, int ucr, uint64_t addr, unsigned size);
/* VM entry injected external interrupt `vec` and delivered it; the
 * entry began at LP cycle `entry_begin`. */
void intr_injected(struct cpu *c, unsigned vec, uint64_t entry_begin);
/* HV_MARK_KICK: the IPI the hypervisor sends next is a kick. */
void intr_kick_marker(struct cpu *c);
/* One latency sample of `stage` for source kind `kind` (ps), on this LP. */
void intr_sample(struct cpu *c, unsigned kind, enum cpu_irq_stage st, uint64_t ps);

/* synintr.c: synthetic interrupts.  A marker HV_MARK_SYNIC_POST,
 * _SYNTH_PEND or _SYNIC_EOM at `cycle`; and, at a VM entry that injected
 * external interrupt `vec`, returns 1 if it was a synthetic one of the
 * VP entered (its handler starts now). */
void synth_marker(struct cpu *c, unsigned id, const struct hv_mark_synic *r, uint64_t cycle);
int synth_injected(struct cpu *c, unsigned vec, uint64_t entry_begin);
/* The machine's book (cpu_config.vflights), or one of the LP's own if
 * NULL; -1 if it cannot be made. */
int synth_init(struct cpu *c, struct vflight_book *shared);
void synth_free(struct cpu *c);

/* vmx.c */
uint32_t vmx_pin_controls(struct cpu *c);
uint32_t vmx_exit_controls(struct cpu *c);
/* A VM exit for an event at an instruction boundary (external
 * interrupt, NMI, INIT): RIP is the next instruction's, `intr_info` the
 * exit interruption information. */
void vmx_event_exit(struct cpu *c, uint32_t reason, uint64_t qual, uint32_t intr_info);
int vmx_init(struct cpu *c);
void vmx_free(struct cpu *c);
int vmx_engine_setup(struct cpu *c, struct engine *e);
/* A #UD from Unicorn at `lin`: a VMX instruction?  1 = handled. */
int vmx_handle_invalid(struct cpu *c, uint64_t rip, uint64_t lin);
/* Non-root: does this event exit?  Each returns 1 if a VM exit was set up
 * (pending in c->vmx.p, or taken at once where noted). */
int vmx_intercept_exception(struct cpu *c, unsigned vec, int kind, uint32_t errc, uint64_t rip, unsigned len);
int vmx_intercept_site(struct cpu *c, unsigned kind, uint64_t addr, unsigned size);
/* MOV CR/DR, CLTS, LMSW, SMSW at a site in VMX operation: the fixed-bit
 * #GP in root operation; exits, masks and read shadows in non-root
 * operation.  Returns 1 if handled, 0 to run the instruction natively. */
int vmx_cr_site(struct cpu *c, unsigned kind, uint64_t addr, unsigned size);
int vmx_intercept_cpuid(struct cpu *c);
int vmx_intercept_io(struct cpu *c, int in, uint16_t port, unsigned size);
int vmx_intercept_hlt(struct cpu *c, uint64_t rip);
int vmx_intercept_triple_fault(struct cpu *c);
int vmx_intercept_ud(struct cpu *c, uint64_t rip, uint64_t lin);
/* A fault while delivering (vec, kind): exit if the bitmap says so, with
 * the first event as IDT-vectoring information. */
int vmx_intercept_nested(struct cpu *c, unsigned vec, int kind, int push_err, uint32_t errc, unsigned nvec,
			 uint32_t nerr, uint64_t rip);
/* Take the pending (EPT) exit that stopped delivering this event. */
void vmx_exit_vectoring(struct cpu *c, unsigned vec, int kind, int push_err, uint32_t errc);
/* Delivering (vec, kind) met a task gate for TSS `sel` whose checks
 * passed: the task-switch exit, taken at once (SDM 26.4.2). */
void vmx_task_gate_exit(struct cpu *c, unsigned vec, int kind, int push_err, uint32_t errc, uint16_t sel,
			uint64_t rip);
/* Run loop: act on what a hook left pending; 1 if it did. */
int vmx_run_pending(struct cpu *c, uc_err e);
/* Guest engine: translate a linear address (two-stage); as cpu_translate_root. */
int vmx_translate(struct cpu *c, uint64_t lin, int write, uint64_t *pa, uint32_t *err);
/* The guest dropped its cached translations (MOV to CR3, INVLPG): the
 * next fill of each page is priced again. */
void vmx_tlb_model_flush(struct engine *e);
/* Block boundary in non-root mode, before the block at linear address
 * `lin`: preemption timer, NMI and interrupt windows. */
int vmx_block_check(struct cpu *c, uint64_t lin);
/* VM exits taken with the engine stopped. */
void vmx_exit(struct cpu *c, uint32_t reason, uint64_t qual);
uint64_t vmx_guest_tsc(struct cpu *c, uint64_t tsc);


#endif
