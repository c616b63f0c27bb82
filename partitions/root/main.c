/* root.elf: the root partition kernel (DESIGN.md; issue 4 item 6).
 *
 * Today it runs on the bare platform (`hvsim run` with `firmware:
 * root.elf`); under the hypervisor it will run in VMX non-root mode with
 * the same entry contract.  It is the foundation of the root's
 * virtualization stack: ring 0 (the future VID-like layer and VSPs) and
 * ring 3 (one worker process per child, the VMWP) separated by the
 * kernel's own segments, page tables and system calls.
 *
 * partitions/root/README.md describes the memory layout, the address
 * spaces, the system-call ABI and what the measured crossing costs mean.
 *
 * This file boots the kernel and, until the VMMS/VID layers exist, runs
 * its self-test: it starts the user program (user/vmwp.c) in one role per
 * process and checks what happened to each: exit status, the fault that
 * killed it, the order the scheduler ran them in, and that every page
 * came back.  PASS/FAIL lines as the guest tests print them; the run ends
 * through the debug-exit port with 0 if every check passed, 1 if not. */
#include "kernel.h"
#include "vid.h"
#include "vmms.h"

#define RK_CONFIG_MAX 16384	/* bytes of the run's configuration kept */
#define RK_MAX_OUTCOMES RK_MAX_PROCS

static struct hv_bootinfo rk_bi;	/* a copy: the original is in the boot area */
static char rk_config[RK_CONFIG_MAX + 1];

/* ---- boot information ---- */

static void rk_check_bootinfo(const struct hv_bootinfo *bi)
{
	if (!bi || ((uintptr_t)bi & 7))
		rk_panic("bootinfo: bad pointer %p", (const void *)bi);
	if (bi->magic != HV_BOOTINFO_MAGIC)
		rk_panic("bootinfo: bad magic 0x%lx", (unsigned long)bi->magic);
	if (bi->version != HV_BOOTINFO_VERSION)
		rk_panic("bootinfo: version %u, this kernel understands %u", bi->version,
			 HV_BOOTINFO_VERSION);
	if (bi->size < sizeof(*bi))
		rk_panic("bootinfo: size %u smaller than %zu", bi->size, sizeof(*bi));
	if (bi->mem_count > HV_BOOT_MAX_MEM || bi->module_count > HV_BOOT_MAX_MODULES)
		rk_panic("bootinfo: %u memory ranges / %u modules exceed %u / %u", bi->mem_count,
			 bi->module_count, HV_BOOT_MAX_MEM, HV_BOOT_MAX_MODULES);
}

/* Keeps what the kernel needs from the boot area before it is reused:
 * the structure and the configuration text. */
static void rk_copy_bootinfo(const struct hv_bootinfo *bi)
{
	uint64_t n = bi->config_length;

	rk_bi = *bi;
	if (n > RK_CONFIG_MAX) {
		rk_printf("root: configuration truncated to %u of %lu bytes\n", RK_CONFIG_MAX,
			  (unsigned long)n);
		n = RK_CONFIG_MAX;
	}
	if (bi->config && bi->config < bi->ram_size && n <= bi->ram_size - bi->config)
		memcpy(rk_config, (const void *)(uintptr_t)bi->config, n);
	else
		n = 0;
	rk_config[n] = '\0';
	rk_bi.config = (uint64_t)(uintptr_t)rk_config;
	rk_bi.config_length = n;
	rk_bi.cmdline = 0;	/* not kept */
}

static const char *rk_mem_type_name(uint32_t type)
{
	switch (type) {
	case HV_MEM_AVAILABLE:
		return "available";
	case HV_MEM_RESERVED:
		return "reserved";
	case HV_MEM_ACPI:
		return "acpi";
	case HV_MEM_FIRMWARE:
		return "kernel";
	case HV_MEM_MODULE:
		return "module";
	case HV_MEM_BOOT:
		return "boot";
	default:
		return "unknown";
	}
}

static void rk_banner(const struct hv_bootinfo *bi)
{
	rk_printf("root: root partition kernel at 0x%lx-0x%lx, %u LP(s) (running on the BSP only), "
		  "%lu MiB RAM, TSC %lu kHz\n",
		  (unsigned long)(uintptr_t)__image_start, (unsigned long)(uintptr_t)__image_end,
		  bi->lp_count, (unsigned long)(bi->ram_size >> 20), (unsigned long)bi->tsc_khz);
	for (uint32_t i = 0; i < bi->mem_count; i++)
		rk_printf("root:   mem[%2u] 0x%012lx-0x%012lx %s\n", i, (unsigned long)bi->mem[i].base,
			  (unsigned long)(bi->mem[i].base + bi->mem[i].length),
			  rk_mem_type_name(bi->mem[i].type));
	rk_printf("root:   %u module(s), configuration %lu bytes\n", bi->module_count,
		  (unsigned long)rk_bi.config_length);
}

/* ---- checks of the machine state the kernel set up ---- */

static bool rk_check_cpu(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) gdtr;
	uint64_t efer = rdmsr(MSR_EFER);

	asm volatile("sgdt %0" : "=m"(gdtr));
	rk_report(gdtr.base == (uint64_t)(uintptr_t)rk_cpu_gdt() && rk_cpu_str() == RK_TSS_SEL,
		  "kernel GDT loaded (GDTR base 0x%lx) and TR = 0x%x (want 0x%x)",
		  (unsigned long)gdtr.base, rk_cpu_str(), RK_TSS_SEL);
	rk_report(rdmsr(MSR_STAR) == rk_cpu_star() &&
			  rdmsr(MSR_LSTAR) == (uint64_t)(uintptr_t)rk_syscall_entry &&
			  rdmsr(MSR_FMASK) == rk_cpu_fmask() && (efer & EFER_SCE),
		  "SYSCALL MSRs read back: STAR 0x%lx LSTAR 0x%lx FMASK 0x%lx EFER 0x%lx",
		  (unsigned long)rdmsr(MSR_STAR), (unsigned long)rdmsr(MSR_LSTAR),
		  (unsigned long)rdmsr(MSR_FMASK), (unsigned long)efer);
	rk_report(read_cr3() == rk_mm_kernel_cr3() && (read_cr0() & X86_CR0_WP) &&
			  (!rk_mm_nx() || (efer & EFER_NXE)),
		  "kernel page tables in CR3 (0x%lx), CR0.WP set, EFER.NXE %s",
		  (unsigned long)read_cr3(), rk_mm_nx() ? "set" : "not offered");
	/* Everything below needs SYSCALL to reach LSTAR: a CPU model that
	 * steps over it would leave ring 3 no way into the kernel. */
	return rk_report(rk_syscall_probe() == 1,
			 "SYSCALL from ring 0 lands at IA32_LSTAR (a CPU that steps over it cannot run "
			 "system calls)");
}

/* ---- processes ---- */

static int rk_spawn(uint32_t role, const char *name)
{
	int pid = rk_proc_create(rk_user_image, (uint64_t)(rk_user_image_end - rk_user_image), role, name);

	if (pid < 0)
		rk_report(false, "creating process %s: error %d", name, pid);
	else
		rk_printf("root: pid %d (%s) created\n", pid, name);
	return pid;
}

static const struct rk_outcome *rk_find(const struct rk_outcome *o, unsigned n, uint32_t pid)
{
	for (unsigned i = 0; i < n; i++)
		if (o[i].pid == (uint32_t)pid)
			return &o[i];
	return NULL;
}

/* Phase 1: the syscall checks and the crossing measurement run in ring 3
 * and report their own PASS/FAIL lines; their failure count is the exit
 * status. */
static void rk_phase_main(void)
{
	struct rk_outcome out[RK_MAX_OUTCOMES];
	const struct rk_outcome *o;
	int pid;
	unsigned n;

	rk_printf("root: --- phase 1: system calls from ring 3 ---\n");
	pid = rk_spawn(RK_ROLE_MAIN, "main");
	if (pid < 0)
		return;
	n = rk_sched_run(out, RK_MAX_OUTCOMES);
	o = rk_find(out, n, (uint32_t)pid);
	rk_report(n == 1 && o && o->how == RK_PROC_EXITED && o->exit_status == 0,
		  "pid %d (main) exited with status %ld after %lu system calls (want 0: no failed "
		  "user-mode check)",
		  pid, o ? (long)o->exit_status : -1L, o ? (unsigned long)o->syscalls : 0ul);
}

/* Phase 2: a full process table of yielders.  Each writes its pid into a
 * variable at the same user address, yields, and checks it is still its
 * own (every process has its own pages); the scheduler must run them in
 * strict rotation. */
static void rk_phase_yield(void)
{
	struct rk_outcome out[RK_MAX_OUTCOMES];
	int pids[RK_MAX_PROCS];
	const uint32_t *trace;
	unsigned n, ntrace, ok = 0, rr = 1;
	int extra;

	rk_printf("root: --- phase 2: %u processes yielding round robin ---\n", RK_MAX_PROCS);
	rk_sched_trace_reset();
	for (unsigned i = 0; i < RK_MAX_PROCS; i++) {
		char name[16];

		fw_snprintf(name, sizeof(name), "yield%u", i);
		pids[i] = rk_spawn(RK_ROLE_YIELD, name);	/* a failure is reported; run the rest */
	}
	extra = rk_proc_create(rk_user_image, (uint64_t)(rk_user_image_end - rk_user_image), RK_ROLE_YIELD,
			       "extra");
	rk_report(extra == -RK_EAGAIN, "process %u+1 refused with a full table: %d (want %d)", RK_MAX_PROCS,
		  extra, -RK_EAGAIN);

	n = rk_sched_run(out, RK_MAX_OUTCOMES);
	for (unsigned i = 0; i < n; i++)
		ok += out[i].how == RK_PROC_EXITED && out[i].exit_status == 0;
	rk_report(n == RK_MAX_PROCS && ok == RK_MAX_PROCS,
		  "%u of %u yielders exited with status 0, each still seeing its own data after every yield",
		  ok, RK_MAX_PROCS);

	/* The first round runs every yielder once (in table order, from the
	 * slot after the one that ran last); every later round repeats it. */
	ntrace = rk_sched_trace(&trace);
	rr = ntrace == RK_MAX_PROCS * (RK_YIELD_ROUNDS + 1);
	for (unsigned i = 0; i < RK_MAX_PROCS && rr; i++) {
		unsigned seen = 0;

		for (unsigned j = 0; j < RK_MAX_PROCS; j++)
			seen += trace[j] == (uint32_t)pids[i];
		rr = seen == 1;
	}
	for (unsigned i = RK_MAX_PROCS; i < ntrace && rr; i++)
		rr = trace[i] == trace[i - RK_MAX_PROCS];
	rk_report(rr, "round robin: %u dispatches in strict rotation (want %u: %u rounds of %u)", ntrace,
		  RK_MAX_PROCS * (RK_YIELD_ROUNDS + 1), RK_YIELD_ROUNDS + 1, RK_MAX_PROCS);
}

/* What each misbehaving role must die of (SDM Vol. 3A 6.15 for the
 * vectors, 4.7 for the page-fault error codes: P = 1 protection
 * violation, W/R = 2 write, U/S = 4 user mode, I/D = 16 instruction fetch,
 * reported when EFER.NXE or CR4.SMEP is set). */
#define PF_P 0x1u
#define PF_W 0x2u
#define PF_U 0x4u
#define PF_I 0x10u

enum rk_where { AT_INSN, AT_KERNEL_BASE };
enum rk_cr2 { CR2_ANY, CR2_KERNEL_BASE, CR2_ENTRY };

struct rk_expect {
	uint32_t role;
	const char *name;
	uint64_t vector, error_code;
	enum rk_where rip;
	enum rk_cr2 cr2;
	uint8_t insn[3], insn_mask[3];	/* the faulting instruction (AT_INSN) */
};

static bool rk_fault_ok(const struct rk_expect *e, const struct rk_outcome *o)
{
	const struct rk_fault *f = &o->fault;
	uint64_t err = e->error_code;
	bool ok = o->how == RK_PROC_KILLED && f->vector == e->vector && f->cs == RK_USER_CS;

	if (e->vector == 14 && (err & PF_I) && !rk_mm_nx() && !rk_mm_smep())
		err &= ~PF_I;
	ok = ok && f->error_code == err;
	if (e->rip == AT_KERNEL_BASE) {
		ok = ok && f->rip == RK_KERNEL_BASE;
	} else {
		ok = ok && f->insn_valid;
		for (unsigned i = 0; i < 3; i++)
			ok = ok && (f->insn[i] & e->insn_mask[i]) == e->insn[i];
	}
	if (e->cr2 == CR2_KERNEL_BASE)
		ok = ok && f->cr2 == RK_KERNEL_BASE;
	else if (e->cr2 == CR2_ENTRY)
		ok = ok && f->cr2 == o->entry;
	return ok;
}

/* Phase 3: privileged instructions and forbidden accesses in ring 3, one
 * process each.  Each must be killed with the right exception while the
 * kernel carries on. */
static void rk_phase_faults(void)
{
	static const struct rk_expect expect[] = {
		/* HLT at CPL > 0 is #GP(0) (SDM Vol. 2A, HLT); F4 */
		{ RK_ROLE_HLT, "hlt", 13, 0, AT_INSN, CR2_ANY, { 0xf4 }, { 0xff } },
		/* MOV from CR3 at CPL > 0 is #GP(0) (SDM Vol. 2B, MOV to/from
		 * control registers); 0F 20 /r with reg = 3 */
		{ RK_ROLE_MOV_CR3, "movcr3", 13, 0, AT_INSN, CR2_ANY, { 0x0f, 0x20, 0xd8 },
		  { 0xff, 0xff, 0xf8 } },
		/* a supervisor page read from ring 3 */
		{ RK_ROLE_READ_KERNEL, "readk", 14, PF_P | PF_U, AT_INSN, CR2_KERNEL_BASE, { 0 }, { 0 } },
		/* a fetch from a supervisor page: faults at the target */
		{ RK_ROLE_EXEC_KERNEL, "execk", 14, PF_P | PF_U | PF_I, AT_KERNEL_BASE, CR2_KERNEL_BASE,
		  { 0 }, { 0 } },
		/* a write to its own read-only code */
		{ RK_ROLE_WRITE_TEXT, "wrtext", 14, PF_P | PF_W | PF_U, AT_INSN, CR2_ENTRY, { 0 }, { 0 } },
	};
	const unsigned count = sizeof(expect) / sizeof(expect[0]);
	struct rk_outcome out[RK_MAX_OUTCOMES];
	int pids[sizeof(expect) / sizeof(expect[0])];
	uint64_t faults_before = rk_trap_stats.user_faults;
	unsigned n;

	rk_printf("root: --- phase 3: faults in ring 3 ---\n");
	for (unsigned i = 0; i < count; i++)
		pids[i] = rk_spawn(expect[i].role, expect[i].name);
	n = rk_sched_run(out, RK_MAX_OUTCOMES);
	for (unsigned i = 0; i < count; i++) {
		const struct rk_outcome *o = pids[i] < 0 ? NULL : rk_find(out, n, (uint32_t)pids[i]);
		const struct rk_expect *e = &expect[i];

		if (!o) {
			rk_report(false, "pid %d (%s): no outcome", pids[i], e->name);
			continue;
		}
		rk_report(rk_fault_ok(e, o),
			  "pid %u (%s) killed by %s error 0x%lx at RIP 0x%lx (bytes %02x %02x %02x) CS 0x%lx "
			  "CR2 0x%lx (want vector %lu error 0x%lx)",
			  o->pid, e->name, rk_vector_name(o->fault.vector), (unsigned long)o->fault.error_code,
			  (unsigned long)o->fault.rip, o->fault.insn[0], o->fault.insn[1], o->fault.insn[2],
			  (unsigned long)o->fault.cs, (unsigned long)o->fault.cr2, (unsigned long)e->vector,
			  (unsigned long)e->error_code);
	}
	rk_report(rk_trap_stats.user_faults - faults_before == count,
		  "the kernel carried on after %lu ring-3 faults (want %u)",
		  (unsigned long)(rk_trap_stats.user_faults - faults_before), count);
}

/* Images the loader must refuse without leaking a page. */
static void rk_phase_bad_images(void)
{
	uint64_t before = rk_pages_free();
	int r1 = rk_proc_create(rk_user_image, 63, RK_ROLE_MAIN, "short");
	int r2 = rk_proc_create(rk_user_image + 1, 4096, RK_ROLE_MAIN, "noelf");

	rk_report(r1 == -RK_ENOEXEC && r2 == -RK_ENOEXEC && rk_pages_free() == before,
		  "truncated and non-ELF images refused: %d %d (want %d), no page lost", r1, r2, -RK_ENOEXEC);
}

__attribute__((noreturn)) void rk_main(const struct hv_bootinfo *bi);

void rk_main(const struct hv_bootinfo *bi)
{
	uint64_t pages_before;

	rk_check_bootinfo(bi);
	if ((uint64_t)(uintptr_t)__image_start != RK_KERNEL_BASE)
		rk_panic("linked at 0x%lx, abi.h says 0x%lx", (unsigned long)(uintptr_t)__image_start,
			 (unsigned long)RK_KERNEL_BASE);
	rk_copy_bootinfo(bi);
	/* A child with the console: its output is the run's (vmms.c). */
	for (unsigned i = 0; i < rk_bi.partition_count && i < HV_BOOT_MAX_PARTITIONS; i++)
		if (rk_bi.partitions[i].flags & HV_BOOT_PART_CONSOLE)
			rk_console_set_quiet(true);
	rk_banner(&rk_bi);

	/* Off the boot GDT, page tables and (entry.S) stack, then give the
	 * boot area back: nothing of it is used after this point. */
	rk_cpu_init();
	rk_mm_init(&rk_bi);
	rk_mm_reclaim_boot(&rk_bi);
	rk_proc_init();
	rk_irq_init(&rk_bi);
	if (!rk_check_cpu()) {
		rk_printf("root: %u passed, %u failed: no ring 3 without SYSCALL\n", rk_report_passes(),
			  rk_report_failures());
		rk_exit(RK_EXIT_FAIL);
	}

	pages_before = rk_pages_free();
	rk_phase_main();
	rk_phase_yield();
	rk_phase_faults();
	rk_phase_bad_images();

	rk_printf("root: --- kernel-side totals: %lu system calls (%lu with an unknown number), %lu "
		  "ring-3 faults ---\n",
		  (unsigned long)rk_syscall_stats.calls, (unsigned long)rk_syscall_stats.bad_number,
		  (unsigned long)rk_trap_stats.user_faults);
	rk_report(rk_syscall_stats.live_flags_leaked == 0 &&
			  rk_syscall_stats.user_if == rk_syscall_stats.calls &&
			  rk_syscall_stats.user_df_ac_tf_nt > 0,
		  "FMASK: of %lu system calls, %lu came with IF and %lu with DF/AC/TF/NT set in ring 3; "
		  "%lu ran the kernel with one set (want 0)",
		  (unsigned long)rk_syscall_stats.calls, (unsigned long)rk_syscall_stats.user_if,
		  (unsigned long)rk_syscall_stats.user_df_ac_tf_nt,
		  (unsigned long)rk_syscall_stats.live_flags_leaked);
	rk_report(rk_syscall_stats.wrong_stack == 0 && rk_trap_stats.wrong_stack == 0,
		  "every system call and ring-3 fault arrived at the top of its process's kernel stack");
	rk_report(rk_pages_free() == pages_before, "every process's pages returned: %lu free (want %lu)",
		  (unsigned long)rk_pages_free(), (unsigned long)pages_before);

	/* Under the hypervisor: the children the configuration describes. */
	if (vid_hypervisor_present())
		vmms_run(&rk_bi);
	/* The tick (started by the VMMS while its children run, else now)
	 * and the HLT it wakes. */
	rk_tick_check(rk_bi.tsc_khz);

	rk_printf("root: %u passed, %u failed\n", rk_report_passes(), rk_report_failures());
	/* A child with the console ends the run with what it wrote to its
	 * debug-exit port, unless the root itself failed. */
	if (rk_console_quiet() && !rk_report_failures()) {
		uint32_t v;

		if (vmms_console_exit(&v))
			rk_exit(v);
		rk_notice("FAIL: the child with the console did not write its debug-exit port\n");
		rk_exit(RK_EXIT_FAIL);
	}
	rk_exit(rk_report_failures() ? RK_EXIT_FAIL : RK_EXIT_PASS);
}
