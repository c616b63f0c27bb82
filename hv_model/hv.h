/* hv_model: the hypervisor's core types and the interfaces between its
 * parts.  It runs in VMX root operation on the simulated CPU, hosts the
 * root partition (whose kernel is the boot module named "root") and the
 * child partitions the root creates through TLFS hypercalls.
 *
 * Memory.  The hypervisor addresses all physical memory through an
 * identity map of its own (paging.c), so a physical address is also a
 * pointer.  Its own pages come from one pool (mm.c) carved out of RAM at
 * boot: the image and the pool are the hypervisor's memory, absent from
 * the root's EPT.  Everything a child partition needs (its EPT, VMCSs,
 * VP structures) comes from the pages the root deposits for it, which
 * leave the root's EPT while the hypervisor holds them (TLFS "Memory
 * Management: Deposit and Withdraw"). */
#ifndef HV_MODEL_HV_H
#define HV_MODEL_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hv/bootinfo.h>
#include <hv/tlfs.h>

#include "hvcall.h"
#include "insn.h"

#define HV_PAGE_MASK (~(HV_PAGE_SIZE - 1))
#define HV_MAX_LPS 64

/* ---- pages (mm.c) ---- */

/* A pool of free 4 KiB pages, linked through their first word. */
struct hv_pool {
	uint64_t head;		/* physical address of the first free page, 0 = empty */
	uint64_t free;		/* pages in the pool */
	uint64_t total;		/* pages ever put in (deposited) */
};

void hv_pool_put(struct hv_pool *p, uint64_t pa);	/* pa page-aligned */
uint64_t hv_pool_get(struct hv_pool *p);		/* a zeroed page, 0 if empty */
/* The hypervisor's own pool, set up by hv_mm_init(). */
extern struct hv_pool hv_pool;
/* The pool and the page-ownership array for RAM below `top`. */
int hv_mm_init(const struct hv_bootinfo *bi, uint64_t top, uint64_t *pool_base, uint64_t *pool_len);

enum hv_page_state {
	HV_PAGE_ROOT,		/* the root's: in its EPT (and maybe mapped into children) */
	HV_PAGE_HV,		/* the hypervisor's image and pool */
	HV_PAGE_DEPOSITED,	/* in a partition's pool */
	HV_PAGE_NONE,		/* not RAM */
};
enum hv_page_state hv_page_state(uint64_t pa, unsigned *maps);
void hv_page_set_state(uint64_t pa, enum hv_page_state st);
/* Count a child mapping of a root page in (+1) or out (-1); -1 if the
 * count would go below 0 or overflow. */
int hv_page_map_count(uint64_t pa, int delta);

static inline void *hv_va(uint64_t pa)
{
	return (void *)(uintptr_t)pa;
}

static inline uint64_t hv_pa(const void *va)
{
	return (uint64_t)(uintptr_t)va;
}

/* ---- the hypervisor's address space and descriptor tables (paging.c) ---- */

#define HV_SEL_CODE 0x08
#define HV_SEL_DATA 0x10
#define HV_SEL_TSS 0x18

/* Identity map of [0, max(4 GiB, top)) and the GDT, TSS and IDT of LP
 * `lp`; loads them.  0 or -1. */
int hv_paging_init(uint64_t top);
int hv_cpu_tables_init(unsigned lp);
uint64_t hv_gdt_base(unsigned lp);
uint64_t hv_tss_base(unsigned lp);
uint64_t hv_idt_base(void);

/* ---- EPT (ept.c) ---- */

/* EPT permissions and memory type of a leaf (SDM 29.3.2). */
#define EPT_R 0x1ull
#define EPT_W 0x2ull
#define EPT_X 0x4ull
#define EPT_RWX (EPT_R | EPT_W | EPT_X)
#define EPT_MT_UC (0ull << 3)
#define EPT_MT_WB (6ull << 3)

struct hv_ept {
	uint64_t pml4;		/* physical address of the PML4 */
	struct hv_pool *pool;	/* where its paging-structure pages come from */
	uint64_t pages;		/* paging-structure pages taken from it */
};

int hv_ept_init(struct hv_ept *e, struct hv_pool *pool);
/* Map [gpa, gpa + len) to [hpa, ...) with `flags` (EPT_R/W/X | EPT_MT_*),
 * in 2 MiB leaves where both addresses and the length allow and 4 KiB
 * otherwise, splitting larger leaves as needed.  0, or -1 when the pool
 * ran dry (what was mapped stays mapped). */
int hv_ept_map(struct hv_ept *e, uint64_t gpa, uint64_t hpa, uint64_t len, uint64_t flags);
int hv_ept_unmap(struct hv_ept *e, uint64_t gpa, uint64_t len);
/* The host-physical address behind `gpa` if its leaf allows `need`
 * (EPT_R/W/X), else ~0. */
uint64_t hv_ept_translate(const struct hv_ept *e, uint64_t gpa, uint64_t need);
uint64_t hv_ept_eptp(const struct hv_ept *e);
/* The raw leaf entry for `gpa` (0 if none).  The 4 KiB leaf for `gpa`,
 * splitting a 2 MiB one, and writing a 4 KiB leaf: the hypercall page
 * overlay saves and restores what it covers. */
uint64_t hv_ept_leaf(const struct hv_ept *e, uint64_t gpa);
int hv_ept_leaf_4k(struct hv_ept *e, uint64_t gpa, uint64_t *leaf);
int hv_ept_set_leaf(struct hv_ept *e, uint64_t gpa, uint64_t leaf);
/* Give every paging-structure page back to the pool (partition deletion). */
void hv_ept_destroy(struct hv_ept *e);
/* Call fn for every present leaf (4 KiB or 2 MiB). */
void hv_ept_for_each_leaf(const struct hv_ept *e, void (*fn)(uint64_t gpa, uint64_t leaf, void *ctx), void *ctx);

/* ---- VMX (vmx.c, vmx_entry.S) ---- */

#define HV_VP_MSRS 6	/* STAR, LSTAR, CSTAR, FMASK, KERNEL_GS_BASE, TSC_AUX (vpregs.c) */

/* Guest registers the VMCS does not hold, saved at each exit. */
struct hv_gprs {
	uint64_t rax, rcx, rdx, rbx, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t cr2;
};

int hv_vmx_on(unsigned lp);
/* Start every other LP of the boot information (smp.c): each loads its
 * tables and enters VMX operation, then waits for hv_smp_go.  0, or -1
 * if one did not come up. */
struct hv_bootinfo;
int hv_smp_start(const struct hv_bootinfo *bi);
/* The root exists: the APs go into hv_run. */
void hv_smp_go(void);
uint32_t hv_vmcs_revision(void);
void hv_vmcs_write_host(unsigned lp);	/* into the current VMCS */
uint32_t hv_vmx_ctl(uint32_t cap_msr, uint32_t want);
static inline uint64_t vmread(uint64_t field)
{
	uint64_t v;

	asm volatile("vmread %1, %0" : "=r"(v) : "r"(field) : "cc");
	return v;
}

static inline void vmwrite(uint64_t field, uint64_t v)
{
	asm volatile("vmwrite %1, %0" : : "r"(field), "r"(v) : "cc", "memory");
}

/* VMCLEAR and VMPTRLD; 0 or the VMX result (1 VMfailInvalid, 2 VMfailValid). */
int hv_vmclear(uint64_t pa);
int hv_vmptrld(uint64_t pa);
/* Enter the guest of the current VMCS with `g` loaded (VMLAUNCH if
 * !launched); returns 0 after a VM exit with `g` saved, or 1/2 if the
 * entry instruction failed (VMfailInvalid/VMfailValid). */
int hv_vmx_run(struct hv_gprs *g, int launched);

/* ---- partitions and VPs (partition.c) ---- */

enum hv_partition_state {
	HV_PART_UNINITIALIZED,	/* created; deposit and initialize only */
	HV_PART_ACTIVE,		/* initialized: VPs, mappings, running */
	HV_PART_FINALIZED,	/* finalized: withdraw and delete only */
};

#define HV_MAX_VPS 64

struct hv_partition;

/* ---- SynIC (synic.c) ----
 * Each VP's synthetic interrupt controller (TLFS "Virtual Interrupt
 * Controller", "Inter-Partition Communication").  Messages that find
 * their slot busy wait in a bounded queue: at most HV_SYNIC_SINT_QUEUE
 * for one SINT, HV_SYNIC_QUEUE for the VP in all (the VP structure
 * holds them and must fit a page). */
#define HV_SYNIC_QUEUE 10
#define HV_SYNIC_SINT_QUEUE 4

struct hv_synic_queued {
	uint64_t seq;			/* arrival order; 0 = free entry */
	uint32_t sint;
	uint32_t reserved;
	struct hv_message msg;
};

struct hv_synic {
	uint64_t scontrol;		/* HV_X64_MSR_SCONTROL */
	uint64_t siefp;			/* HV_X64_MSR_SIEFP */
	uint64_t simp;			/* HV_X64_MSR_SIMP */
	uint64_t sint[HV_SYNIC_SINT_COUNT];	/* HV_X64_MSR_SINTn */
	uint64_t irr[4];		/* the root's vectors pending injection, 256 bits (a
					 * child's go to its virtual APIC) */
	int window;			/* interrupt-window exiting is on in its VMCS (the root) */
	uint64_t seq;			/* last arrival number given */
	uint64_t posted, delivered, interrupts;	/* counters, for the record */
	struct hv_synic_queued q[HV_SYNIC_QUEUE];
};

/* ---- synthetic time (stimer.c) ----
 * TLFS "Timers": the partition reference counter, the reference TSC
 * page, and four synthetic timers per VP. */
/* The synthetic-time privileges every partition gets (TLFS "Partition
 * Privilege Flags": AccessPartitionReferenceCounter,
 * AccessSyntheticTimerRegs, AccessPartitionReferenceTsc). */
#define HV_PRIVILEGES_TIME \
	(HV_MSR_TIME_REF_COUNT_AVAILABLE | HV_MSR_SYNTIMER_AVAILABLE | HV_MSR_REFERENCE_TSC_AVAILABLE)

struct hv_stimer {
	uint64_t config;	/* HV_X64_MSR_STIMERn_CONFIG */
	uint64_t count;		/* HV_X64_MSR_STIMERn_COUNT */
	uint64_t due;		/* next expiration, reference time; while armed */
	uint64_t due_tsc;	/* the first TSC at which the reference time reaches due */
	uint64_t undelivered;	/* expiration time of a message not posted yet (0 = none) */
	uint8_t armed;		/* counting towards due */
	uint8_t msg_wait;	/* its message waits in the SynIC queue for the slot */
	uint8_t reserved[6];
	uint64_t expirations, missed;	/* counters, for the record */
};

/* ---- the virtual local APIC of a child VP (vapic.c) ----
 * xAPIC mode through its MMIO page (SDM Vol. 3A 10.4, Table 10-1; the
 * accesses exit as EPT violations, mmio.c) and x2APIC mode (10.12)
 * through MSRs 0x800-0x8FF, both also through the TLFS enlightened MSRs
 * EOI/ICR/TPR; 256-bit registers as 8 x 32 bits, bit v of the set in
 * word v / 32 (SDM 10.8.4). */
struct hv_vapic {
	uint32_t irr[8], isr[8], tmr[8];
	uint32_t tpr;		/* 7:0 */
	uint32_t svr;		/* spurious vector 7:0, software enable 8 */
	uint32_t esr, esr_pending;	/* what ESR reads; errors since its last write */
	uint32_t lvt[7];	/* CMCI, timer, thermal, PMC, LINT0, LINT1, error; the timer's raises */
	/* The APIC timer (apictimer.c; SDM 10.5.4), counted in TSC cycles:
	 * one tick of the bus clock divided by the divide configuration is
	 * hv_apic_timer_ratio() * divisor cycles. */
	uint32_t timer_initial, timer_divide;	/* initial-count and divide configuration registers */
	uint32_t timer_base;	/* one-shot/periodic: the count at timer_start */
	uint8_t timer_counting;	/* one-shot/periodic: counting down from timer_base */
	uint8_t timer_armed;	/* an expiry is due at timer_due (counting, or a deadline set) */
	uint8_t timer_reserved[2];
	uint64_t timer_start;	/* TSC at which the count was timer_base */
	uint64_t timer_due;	/* TSC of the next expiry while armed */
	uint64_t timer_last;	/* TSC at which the hypervisor last acted on an expiry */
	uint64_t tsc_deadline;	/* IA32_TSC_DEADLINE (TSC-deadline mode; 0 = disarmed) */
	uint64_t timer_expiries, timer_coalesced;	/* counters: expiries acted on, periods merged into them */
	uint64_t icr;		/* the last value written */
	uint64_t apic_base;	/* IA32_APIC_BASE as the VP sees it */
	uint64_t assist;	/* HV_X64_MSR_VP_ASSIST_PAGE */
	int assist_vector;	/* the vector "no EOI required" was offered for, -1 none */
	int window;		/* interrupt-window exiting is on in its VMCS */
	uint32_t ldr, dfr;	/* xAPIC logical destination and format (x2APIC derives its LDR) */
	int nmi_pending;	/* an NMI IPI waits for NMI blocking to end */
	uint64_t accepted, injected, eois, eois_assisted, ipis_sent;	/* counters, for the record */
	uint64_t nmis, mmio;	/* NMIs injected, xAPIC page accesses emulated */
};

struct hv_vp {
	struct hv_partition *part;
	unsigned index;
	int suspended;		/* HvRegisterExplicitSuspend: created suspended */
	int intercept_suspended;	/* HvRegisterInterceptSuspend: waits for the parent */
	int mark_resume;	/* the next entry ends an intercept: HV_MARK_INTERCEPT_RESUMED */
	int yield;		/* give the LP to another VP at the next chance */
	uint64_t slice_end;	/* TSC at which its time slice ends */
	uint64_t vmcs;		/* physical address of its VMCS region */
	int launched;
	int runnable;		/* started and not halted */
	int halted;		/* executed HLT: waits for an interrupt */
	int wake_pending;	/* the root's: woken while it ran; its next HLT returns at once */
	uint64_t xcr0;		/* its XCR0 (exit.c exit_xsetbv), loaded before each entry */
	unsigned lp;		/* the LP it runs on (lp.c: placed at creation) */
	int vmcs_lp;		/* the LP its VMCS is active on, -1 if clear (lp.c) */
	volatile int clear_request;	/* another LP waits for that LP to VMCLEAR it */
	int borrowed;		/* other LPs using its VMCS: its own LP does not run it */
	struct hv_gprs g;
	/* MSRs VMX does not switch: the VM-entry MSR-load and VM-exit
	 * MSR-store area (16 bytes an entry, SDM 25.7.2). */
	uint8_t msr_area[HV_VP_MSRS * 16] __attribute__((aligned(16)));
	struct hv_synic synic;
	struct hv_stimer stimer[HV_SYNIC_STIMER_COUNT];
	struct hv_vapic vapic;	/* children only (vapic.c) */
	int started;		/* left its creation suspension, or HvCallStartVirtualProcessor, or a SIPI */
	int wait_sipi;		/* an INIT put it in wait-for-SIPI (HV_INTERNAL_ACTIVITY_STARTUP_SUSPEND) */
};

/* Ports and connections (port.c; TLFS "Inter-Partition Communication"):
 * a port belongs to the partition that receives through it, a connection
 * to the partition that sends.  Fixed tables per partition. */
#define HV_MAX_PORTS 64
#define HV_MAX_CONNECTIONS 64

struct hv_port {
	bool in_use;
	uint8_t type;			/* HV_PORT_TYPE_MESSAGE or _EVENT */
	uint8_t sint;			/* target SINT */
	uint32_t id;			/* HV_PORT_ID, bits 23:0 */
	uint32_t vp;			/* target VP index */
	uint16_t base_flag, flag_count;	/* event ports: flags [base, base + count) */
	uint64_t connection_partition;	/* the partition allowed to connect */
};

struct hv_connection {
	bool in_use;
	uint32_t id;			/* HV_CONNECTION_ID, bits 23:0 */
	uint32_t port_id;
	uint64_t port_partition;
};

/* I/O-port intercepts a parent installed for its child (HvCallInstallIntercept). */
#define HV_MAX_IO_INTERCEPTS 16

struct hv_io_intercept {
	uint16_t base, end;	/* ports [base, end] */
	uint8_t access;		/* HV_INTERCEPT_ACCESS_MASK_READ / _WRITE */
};

struct hv_partition {
	uint64_t id;
	unsigned slot;			/* index in the partition table */
	enum hv_partition_state state;
	bool is_root;
	bool in_use;
	bool faulted;			/* stopped by the hypervisor after a fault */
	struct hv_partition *parent;	/* the creator; NULL for the root */
	struct hv_pool *meta_pool;	/* where its MSR bitmap came from (the parent's) */
	struct hv_ept ept;
	struct hv_pool pool;		/* deposited pages (children) */
	uint64_t create_flags;
	uint64_t msr_bitmap;		/* physical address of its MSR bitmap page */
	uint64_t guest_os_id;		/* HV_X64_MSR_GUEST_OS_ID */
	uint64_t hypercall_msr;		/* HV_X64_MSR_HYPERCALL */
	uint64_t hypercall_page;	/* hypervisor page overlaid at the GPFN, 0 = none */
	uint64_t hypercall_saved;	/* the EPT leaf the overlay covers */
	uint64_t privileges;		/* HV_PARTITION_PRIVILEGE_MASK: CPUID 0x40000003 EBX:EAX */
	uint64_t synthetic_features;	/* HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES */
	unsigned nvps;
	struct hv_vp *vps[HV_MAX_VPS];
	unsigned nio_intercepts;
	struct hv_io_intercept io_intercepts[HV_MAX_IO_INTERCEPTS];
	uint64_t intercepts_posted;	/* intercept messages sent to the parent */
	uint64_t time_base;		/* TSC at creation: reference time 0 (stimer.c) */
	int64_t tsc_offset;		/* the reference TSC page's TscOffset */
	uint64_t reference_tsc_msr;	/* HV_X64_MSR_REFERENCE_TSC */
	struct hv_port ports[HV_MAX_PORTS];
	struct hv_connection connections[HV_MAX_CONNECTIONS];
};

struct hv_partition *hv_partition_new(bool root);
struct hv_partition *hv_partition_find(uint64_t id);
void hv_mark_partition(const struct hv_partition *p, unsigned event);	/* enum hv_mark_partition_event */
struct hv_partition *hv_partition_at(unsigned slot);	/* NULL if the slot is free */
unsigned hv_partition_slots(void);
struct hv_vp *hv_vp_create(struct hv_partition *p, unsigned index, struct hv_pool *pool, unsigned lp);
uint16_t hv_vp_vpid(const struct hv_vp *vp);	/* its VPID (SDM 29.1) */
/* Before a VP's pages go back to its pool: its VMCS cleared wherever it
 * is active, and no LP remembers it. */
void hv_vp_destroy(struct hv_vp *vp);

/* Initial state of a VP in 64-bit flat mode (the root's handoff). */
struct hv_vp_boot {
	uint64_t rip, rsp, cr0, cr3, cr4, efer;
	uint64_t gdt, tss;
	uint16_t gdt_limit, cs, ds, tr;
};
void hv_vp_set_long_mode(const struct hv_vp_boot *b);	/* into the current VMCS */

/* Registers by TLFS name (vpregs.c); the VP's VMCS must be current. */
uint16_t hv_vp_get_register(struct hv_vp *vp, uint32_t name, union hv_register_value *v);
uint16_t hv_vp_set_register(struct hv_vp *vp, uint32_t name, const union hv_register_value *v);
void hv_vp_set_reset_state(void);
void hv_vp_msr_area_init(struct hv_vp *vp);

/* ---- logical processors (lp.c) ----
 * The hypervisor lock, kicks between LPs, VP placement and the rules for
 * a VMCS used on another LP than its VP's (docs/hypervisor.md
 * "Scheduling").  HV_KICK_VECTOR is the hypervisor's only interrupt
 * vector: kicks and the idle timer; the root never sees it. */
#define HV_KICK_VECTOR 0xf2
#define HV_SPURIOUS_VECTOR 0xff

enum hv_lp_state {
	HV_LP_IN_HV,		/* in the hypervisor (holds or waits for the lock) */
	HV_LP_GUEST,		/* running a VP */
	HV_LP_IDLE,		/* waiting for a kick or its timer */
};

struct hv_lp {
	struct hv_lp *self;		/* %gs:0 (hv_this_lp) */
	volatile uint64_t irq_kicks;	/* %gs:8: kicks taken through the IDT (idt.S) */
	unsigned index;
	volatile enum hv_lp_state state;
	uint64_t vmcs;			/* the VMCS current on it, 0 none */
	uint64_t exit_tsc;		/* TSC at its last VM exit, before the lock */
	uint64_t xcr0;			/* XCR0 on it now (hv_run) */
	struct hv_vp *cur;		/* the VP it ran last (hv_run) */
	unsigned nvps;			/* VPs placed on it */
	volatile int clear_requests;	/* some VP active here has clear_request set */
	int deadline_timer;		/* its LAPIC timer is the hypervisor's, TSC-deadline */
	/* A hypercall's input and output blocks (hypercall.c): per LP, as
	 * a handler may let go of the lock (hv_vmcs_load). */
	uint8_t *call_in, *call_out;
	uint64_t kicks_sent, kicks_taken, idles;	/* counters, for the record */
};

extern struct hv_lp hv_lps[HV_MAX_LPS];
extern unsigned hv_lp_count;		/* LPs running hv_run */
struct hv_lp *hv_this_lp(void);
unsigned hv_lp_index(void);
/* Once per LP, before anything else here, one LP at a time: GS base,
 * LAPIC enabled, hypercall buffers.  0, or -1 if the pool ran dry. */
int hv_lp_init(unsigned lp);
void hv_lock(void);
void hv_unlock(enum hv_lp_state next);
/* Make LP `lp` look at its VPs again (nothing if it is this one or
 * already in the hypervisor); hv_lp_kick_taken: a kick arrived as an
 * external-interrupt exit (EOI). */
void hv_lp_kick(unsigned lp);
void hv_lp_kick_taken(void);
/* `vp` has something new to do (an interrupt, a start, a completed
 * intercept): its LP looks; hv_vp_wake also ends its HLT. */
void hv_vp_notify(struct hv_vp *vp);
void hv_vp_wake(struct hv_vp *vp);
/* The root's VP has news (an intercept message, a child halted): as
 * hv_vp_wake, and if it is not halted its next HLT returns at once. */
void hv_root_news(struct hv_vp *root);
/* The LP a new VP goes on: the one with the fewest VPs, the lowest of
 * those. */
unsigned hv_lp_place(void);
/* Make `vp`'s VMCS current on this LP (SDM 25.1: VMCLEARed first on
 * the LP it is active on, which this waits for with the lock let go);
 * 0 or the VMPTRLD result.  For a VP of another LP, each call is paired
 * with hv_vmcs_done: finished with it (VMCLEAR, so its own LP can load
 * it again).
 * hv_vmcs_clear: VMCLEAR on this LP.  hv_lp_service: answer the
 * requests to clear VMCSs active on this LP. */
int hv_vmcs_load(struct hv_vp *vp);
void hv_vmcs_done(struct hv_vp *vp);
void hv_vmcs_clear(struct hv_vp *vp);
void hv_lp_service(void);
/* Wait, without the lock, for a kick or until TSC `until` (~0: none). */
void hv_lp_idle(uint64_t until);

/* ---- the root partition (root.c), exits (exit.c), scheduling ---- */

struct cpuid_regs;
void hv_inject_exception(unsigned vector, int has_error, uint32_t error);
/* cr0.c: a child's CR0 as it sees it.  The bits the hypervisor owns
 * (the guest/host mask for `vp`); the guest-visible CR0 of the current
 * VMCS written (read shadow and the CR0 the processor uses) and read;
 * a MOV to CR0 exit performed (0), or -1 if the exit is not one. */
uint64_t hv_cr0_owned(const struct hv_vp *vp);
void hv_cr0_set(uint64_t v);
uint64_t hv_cr0_get(void);
int hv_cr0_exit(struct hv_vp *vp);
void hv_skip_instruction(void);
uint64_t *hv_vp_gpr(struct hv_vp *vp, unsigned n, uint64_t *rsp);
/* mmio.c: the qword at guest-physical `gpa` of partition `ctx` (the
 * dword at a page's last four bytes) through its EPT: 0, or -1 if the
 * EPT does not map it readable. */
int hv_read_gpa(void *ctx, uint64_t gpa, uint64_t *v);
/* Synthetic CPUID leaves and MSRs (synth.c): 1 / 0 if handled, else
 * 0 / -1 (the caller falls back to the processor's CPUID, or #GP). */
int hv_cpuid_synthetic(struct hv_vp *vp, uint32_t leaf, struct cpuid_regs *r);
int hv_msr_read(struct hv_vp *vp, uint32_t idx, uint64_t *v);
int hv_msr_write(struct hv_vp *vp, uint32_t idx, uint64_t v);
/* SynIC (synic.c).  MSR access: 0 done, -1 #GP, 1 not a SynIC MSR. */
void hv_synic_reset(struct hv_vp *vp);
int hv_synic_msr_read(struct hv_vp *vp, uint32_t idx, uint64_t *v);
int hv_synic_msr_write(struct hv_vp *vp, uint32_t idx, uint64_t v);
/* Post a message to `vp`'s SINT `sint` (TLFS "SynIC Messages"): into the
 * slot if it is free and nothing waits before it, else queued.  0, or -1
 * when the VP cannot take it (SynIC or message page disabled, queue
 * full): nothing was posted. */
int hv_synic_post(struct hv_vp *vp, unsigned sint, uint32_t type, uint64_t sender, const void *payload,
		  unsigned len);
/* The same for a source that asserted the message at TSC `src_tsc` (a
 * synthetic timer's due time), for hvsim's statistics (marker.h
 * HV_MARK_SYNIC_POST); hv_synic_post passes 0: the hypercall in hand. */
int hv_synic_post_at(struct hv_vp *vp, unsigned sint, uint32_t type, uint64_t sender, const void *payload,
		     unsigned len, uint64_t src_tsc);
/* Tell hvsim about an interrupt the hypervisor raises (marker.h
 * HV_MARK_SYNIC_POST, _SYNTH_PEND, _SYNIC_EOM, _VAPIC_EOI; `kind` enum
 * hv_mark_synth_kind, `flags` HV_MARK_SYNTH_*).  Costs the record's
 * stores only. */
void hv_synic_mark(unsigned id, const struct hv_vp *vp, unsigned sint, unsigned vector, unsigned kind, unsigned flags,
		   uint64_t seq, uint64_t src_tsc);
/* Set event flag `flag` of SINT `sint` in the SIEF page; an interrupt if
 * it was clear (TLFS "SynIC Event Flags").  0, or -1 if the page is off. */
int hv_synic_signal_event(struct hv_vp *vp, unsigned sint, unsigned flag);
/* Before a VM entry of `vp` (its VMCS current): inject the highest
 * pending SynIC vector if the guest can take an interrupt, else ask for
 * an interrupt-window exit (SDM 26.7.5). */
void hv_synic_inject(struct hv_vp *vp);

/* Make `vector` pending for `vp`: a child's through its virtual APIC
 * (hv_vapic_accept), the root's in the pending set hv_synic_inject
 * drains; a halted VP wakes.  hvsim learns what raised it (marker.h
 * HV_MARK_SYNTH_PEND): `kind` (enum hv_mark_synth_kind), `pin` (the
 * record's sint: a SINT, a timer's index, an IPI's sender), the message
 * `seq` (0: none) and when its source asserted it (`src_tsc`, 0: the
 * exit in hand). */
void hv_irq_raise(struct hv_vp *vp, unsigned vector, unsigned kind, unsigned pin, uint64_t seq, uint64_t src_tsc);

/* The virtual local APIC of a child's VP (vapic.c; docs/hypervisor.md
 * "Virtual APIC").  Its MSRs (x2APIC 0x800-0x8FF, IA32_APIC_BASE, the
 * TLFS EOI/ICR/TPR and VP assist page): 0 done, -1 #GP, 1 not one of
 * them or not a child.  hv_vapic_accept: a fixed interrupt arrives (a
 * halted VP wakes if it can be delivered); it says whether the APIC took
 * it and whether the vector was in the IRR already (hv_irq_raise calls
 * it).  hv_vapic_inject: before a VM
 * entry (VMCS current), the highest deliverable vector goes in, else
 * interrupt-window exiting while one waits.  hv_vapic_sync: after a VM
 * exit, an EOI the guest left to the hypervisor through the VP assist
 * page is done.  hv_vapic_deliverable: the vector that would go in next,
 * -1 if none. */
void hv_vapic_reset(struct hv_vp *vp);
int hv_vapic_msr_read(struct hv_vp *vp, uint32_t idx, uint64_t *v);
int hv_vapic_msr_write(struct hv_vp *vp, uint32_t idx, uint64_t v);
enum hv_vapic_accepted {
	HV_VAPIC_DROPPED,	/* disabled, software-disabled, or an illegal vector */
	HV_VAPIC_NEW,		/* into the IRR */
	HV_VAPIC_MERGED,	/* the IRR had it already: the same interrupt */
};
enum hv_vapic_accepted hv_vapic_accept(struct hv_vp *vp, unsigned vector);
void hv_vapic_inject(struct hv_vp *vp);
void hv_vapic_sync(struct hv_vp *vp);
int hv_vapic_deliverable(const struct hv_vp *vp);
/* The timer of a child VP's virtual APIC (apictimer.c; SDM 10.5.4,
 * 10.5.4.1; docs/hypervisor.md "The APIC timer").  hv_apic_timer_init
 * once with the TSC rate; hv_apic_timer_hz: its bus clock
 * (HV_X64_MSR_APIC_FREQUENCY).  The registers, for vapic.c once it has
 * checked the access: the current count, the initial count, the divide
 * configuration, the LVT timer entry (the value to store: writable bits
 * only, the mode already settled) and IA32_TSC_DEADLINE.
 * hv_apic_timer_pending: an expiry could raise an interrupt (the
 * hypervisor must be there for it); hv_apic_timer_run (hv_stimer_run):
 * act on the expiries due at `tsc`, return the TSC by which the
 * hypervisor must look again (~0: never). */
void hv_apic_timer_init(uint64_t tsc_khz);
uint64_t hv_apic_timer_hz(void);
uint32_t hv_apic_timer_current(struct hv_vp *vp);
void hv_apic_timer_write_initial(struct hv_vp *vp, uint32_t v);
void hv_apic_timer_write_divide(struct hv_vp *vp, uint32_t v);
void hv_apic_timer_write_lvt(struct hv_vp *vp, uint32_t v);
uint64_t hv_apic_timer_deadline(struct hv_vp *vp);
void hv_apic_timer_write_deadline(struct hv_vp *vp, uint64_t v);
bool hv_apic_timer_pending(const struct hv_vp *vp);
uint64_t hv_apic_timer_run(struct hv_vp *vp, uint64_t tsc);
/* IA32_APIC_BASE as its parent sets it (HvX64RegisterApicBase): -1 for
 * a value the model cannot take (reserved bits, EXTD without EN, another
 * base); a change of mode puts the APIC in that mode's power-up state. */
int hv_vapic_set_base(struct hv_vp *vp, uint64_t v);
/* INIT (SDM 10.4.7.3): the APIC's power-up state, ID and mode kept. */
void hv_vapic_init(struct hv_vp *vp);
/* The xAPIC page (SDM Table 10-1): is `gpa` on it while the APIC is in
 * xAPIC mode?  An access of `size` bytes at offset `off`: a read returns
 * the bytes, a write of anything but a whole register is dropped. */
bool hv_vapic_xapic_page(const struct hv_vp *vp, uint64_t gpa);
uint64_t hv_vapic_mmio_read(struct hv_vp *vp, unsigned off, unsigned size);
void hv_vapic_mmio_write(struct hv_vp *vp, unsigned off, unsigned size, uint64_t v);
/* An EPT violation of a child's VP (its VMCS current): 0 if it was an
 * access to its xAPIC page, emulated (or the VP was given the fault the
 * SDM says); -1 if it was that but cannot be emulated (`why` says why:
 * the caller stops the partition); 1 if it is not the APIC's (mmio.c). */
int hv_mmio_exit(struct hv_vp *vp, const char **why);
/* mmio.c: the instruction at the current VMCS's CS:RIP, up to `max`
 * bytes into `code`, fetched through the guest's paging structures and
 * the partition's EPT as far as both allow: the bytes fetched.  *f says
 * the code size and why the fetch stopped short (a #PF with its error
 * code and linear address, or no memory behind a page). */
struct hv_fetch {
	struct hv_walk_regs regs;	/* the guest's paging state at the exit */
	unsigned bits;			/* code size: 16, 32, 64 */
	enum hv_walk_status ws;		/* HV_WALK_OK: nothing stopped it before `max` */
	uint32_t pf;			/* HV_WALK_PAGE_FAULT: the #PF error code */
	uint64_t fault_lin;		/* the linear address it could not fetch */
};
unsigned hv_fetch_insn(struct hv_vp *vp, uint8_t *code, unsigned max, struct hv_fetch *f);
/* INIT and SIPI from `src` to `t` of its partition (vpstart.c; `src`'s
 * VMCS current before and after): INIT puts `t` in wait-for-SIPI with the
 * INIT state (SDM 9.1.1), a SIPI starts a VP waiting for one in real mode
 * at vector << 12 (SDM 8.4.4, 10.6.1). */
void hv_vp_init_ipi(struct hv_vp *src, struct hv_vp *t);
void hv_vp_sipi(struct hv_vp *src, struct hv_vp *t, unsigned vector);
/* MOV to/from CR8 of a child (a CR-access exit; its VMCS current): the
 * virtual TPR's 7:4 (SDM 10.8.6.1).  0 handled, -1 not a CR8 access. */
int hv_vapic_cr8_exit(struct hv_vp *vp);
/* synic.c: `vector` was EOIed; a SINT using it without auto-EOI gets its
 * waiting message delivered (TLFS "SynIC Message Flags"). */
void hv_synic_eoi(struct hv_vp *vp, unsigned vector);
/* synic.c: some unmasked SINT uses `vector` with auto-EOI: it does not
 * enter the ISR (TLFS "SINTx Registers"). */
bool hv_synic_auto_eoi(const struct hv_vp *vp, unsigned vector);
/* synic.c: some unmasked SINT uses `vector` (no EOI assist for it). */
bool hv_synic_has_vector(const struct hv_vp *vp, unsigned vector);
/* synic.c: `vp` can receive messages (its SynIC and SIM page are on),
 * whether or not its queues have room now. */
bool hv_synic_listening(struct hv_vp *vp);

/* Synthetic time (stimer.c).  hv_time_init once at boot with the TSC
 * rate; hv_time_start when a partition is created (reference time 0). */
void hv_time_init(uint64_t tsc_khz);
void hv_time_start(struct hv_partition *p);
/* The partition's reference time (100 ns units) at TSC `tsc`. */
uint64_t hv_ref_time(const struct hv_partition *p, uint64_t tsc);
/* TIME_REF_COUNT, REFERENCE_TSC, the frequency MSRs and the STIMER
 * MSRs: 0 done, -1 #GP, 1 not one of them. */
int hv_stimer_msr_read(struct hv_vp *vp, uint32_t idx, uint64_t *v);
int hv_stimer_msr_write(struct hv_vp *vp, uint32_t idx, uint64_t v);
void hv_stimer_reset(struct hv_vp *vp);
/* A timer was armed somewhere (an APIC timer, apictimer.c): the next
 * hv_stimer_run must look at every VP. */
void hv_time_kick(void);
/* Act on every expiry due on LP `lp` (all its VPs, running or not; the
 * synthetic timers and the children's APIC timers); returns the TSC of
 * the next one (~0 if none is armed).  hv_run calls it before every VM
 * entry and bounds the entry with it. */
uint64_t hv_stimer_run(unsigned lp);
/* synic.c: a timer's message moves from the queue (`src`, the
 * hypervisor's copy) into the SIM slot `slot`: DeliveryTime is now. */
void hv_stimer_delivering(struct hv_vp *vp, const struct hv_message *src, struct hv_message *slot);

/* Physical interrupts (intr.c): all go to the root's VP on the LP.
 * hv_intr_init: 0, or -1 if the processor lacks external-interrupt
 * exiting or acknowledge-interrupt-on-exit.  hv_intr_exit: an
 * EXIT_REASON_EXTERNAL_INTERRUPT of `vp` (its VMCS current).
 * hv_intr_urgent: the VP that must run next on `lp` (the root's, after
 * an interrupt arrived in a child's context), once; else NULL.
 * hv_intr_idle_vp: when no VP can run, the root's VP halted on `lp`, to
 * be entered in the HLT activity state (else NULL); hv_intr_idle_enter
 * (its VMCS current; -1: it halted with IF = 0, the LP must halt) and
 * hv_intr_idle_exit around that entry. */
int hv_intr_init(void);
void hv_intr_exit(struct hv_vp *vp);
struct hv_vp *hv_intr_urgent(unsigned lp);
struct hv_vp *hv_intr_idle_vp(unsigned lp);
int hv_intr_idle_enter(void);
void hv_intr_idle_exit(void);
/* At a HLT exit of `vp` (VMCS current): 1 if a pending vector it can take
 * (RFLAGS.IF = 1) ends the HLT at once. */
int hv_intr_hlt_wakes(const struct hv_vp *vp);
/* Before a VM entry (VMCS current): can an external interrupt be
 * injected now (RFLAGS.IF = 1, no STI/MOV SS blocking, no event already
 * being injected; SDM 26.7.5)?  hv_intr_inject injects `vector`;
 * hv_intr_window turns interrupt-window exiting on or off, recording it
 * in *window. */
bool hv_intr_can_inject(void);
void hv_intr_inject(unsigned vector);
void hv_intr_window(int *window, bool on);
extern uint64_t hv_intr_count, hv_intr_in_child;

/* Intercepts (intercept.c; HvCallInstallIntercept is with the hypercalls). */
/* A child's I/O instruction exit: 0 handled (emulated, or the VP
 * suspended on an intercept message), -1 not something hv_model can do
 * (the caller stops the partition). */
int hv_io_exit(struct hv_vp *vp);
/* A child's EPT violation on a GPA it has no mapping for (not its xAPIC
 * page): 0 handled (the VP suspended on an HvMessageTypeUnmappedGpa
 * message to its parent, or it yields because the parent's queue is
 * full), 1 not something to tell the parent (a mapped page's access
 * rights, or a parent with no SIM page: the caller stops the
 * partition). */
int hv_gpa_exit(struct hv_vp *vp);

/* ---- hypercalls (hypercall.c, and the handlers in partmgmt.c) ---- */

/* A call being handled: the input block (fixed header, then the rep
 * elements), the output block, and the next rep to do. */
struct hv_call {
	struct hv_vp *vp;
	struct hvcall_ctl ctl;
	const uint8_t *in;
	uint8_t *out;
	unsigned rep;		/* starts at the rep start index; handlers advance it */
	uint64_t deadline;	/* TSC by which a rep call should return */
};

struct hv_handler {
	uint16_t code;
	uint16_t (*fn)(struct hv_call *c);
};
extern const struct hv_handler hv_handlers[];	/* ends with fn == NULL */
uint16_t hv_call_notify_long_spin_wait(struct hv_call *c);	/* vpcalls.c */
uint16_t hv_call_flush_virtual_address_space(struct hv_call *c);
uint16_t hv_call_flush_virtual_address_list(struct hv_call *c);
uint16_t hv_call_install_intercept(struct hv_call *c);	/* intercept.c */
/* vapic.c: HvCallSendSyntheticClusterIpi and ...Ex. */
uint16_t hv_call_send_ipi(struct hv_call *c);
uint16_t hv_call_send_ipi_ex(struct hv_call *c);
/* vpstart.c: HvCallStartVirtualProcessor. */
uint16_t hv_call_start_vp(struct hv_call *c);
/* Ports and connections (port.c). */
uint16_t hv_call_create_port(struct hv_call *c);
uint16_t hv_call_delete_port(struct hv_call *c);
uint16_t hv_call_connect_port(struct hv_call *c);
uint16_t hv_call_disconnect_port(struct hv_call *c);
uint16_t hv_call_post_message(struct hv_call *c);
uint16_t hv_call_signal_event(struct hv_call *c);
/* A partition goes away: its ports, its connections and every
 * connection to its ports with them. */
void hv_ports_partition_deleted(struct hv_partition *p);
/* The partition `id` names for `caller` (partmgmt.c): itself if
 * `self_ok`, else one of its children; INVALID_PARTITION_ID or
 * ACCESS_DENIED otherwise. */
uint16_t hv_call_target(struct hv_partition *caller, uint64_t id, bool self_ok, struct hv_partition **out);

void hv_hypercall_init(uint64_t tsc_khz);
/* The RAM behind `p`'s `gpa` if its EPT allows the access (write or
 * read), else ~0 (hypercall.c): hypercall blocks and SynIC pages. */
uint64_t hv_guest_ram(struct hv_partition *p, uint64_t gpa, int write);
/* A VMCALL exit: the TLFS hypercall interface. */
void hv_hypercall(struct hv_vp *vp);
/* A rep handler's loop condition: reps left and time left; the first rep
 * of an invocation (`started`) always runs. */
bool hv_call_more(struct hv_call *c, unsigned started);

struct hv_partition *hv_root_create(const struct hv_bootinfo *bi, uint64_t pool_base, uint64_t pool_len);
/* Run VPs on this LP until nothing can run; does not return. */
__attribute__((noreturn)) void hv_run(unsigned lp);

#endif
