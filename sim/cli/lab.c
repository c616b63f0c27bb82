/* hvsim lab partition-create: the creation of one child partition, one
 * hypercall at a time (docs/cli.md "hvsim lab").
 *
 * The machine of `hvsim run` runs with an observer on LP 0
 * (sim/cpu/cpu.h struct cpu_observer).  At each VMCALL exit of the root
 * partition the lab keeps the caller's registers and its input block; the
 * hypervisor's markers (include/hv/marker.h) and VMWRITEs until the VM
 * entry that returns from the call say what the call changed; at that
 * entry the lab prints the step and, unless told to go on, asks what to
 * do next.  Everything printed comes from the simulated machine, so the
 * transcript is the same on every host. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "cpu.h"
#include "diag.h"
#include "hv/marker.h"
#include "hv/tlfs.h"
#include "hv/vmx.h"
#include "hvcall.h"
#include "hvsim_config.h"
#include "machine.h"

#ifdef HVSIM_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

/* The built-in configuration: the root and one small enlightened child. */
static const char lab_config[] =
	"# hvsim lab partition-create: the root partition and one small child\n"
	"partitions:\n"
	"  - {name: lab, kernel: enlightened, memory: 4M, iterations: 1}\n";

static const char lab_usage[] =
	"usage: hvsim lab partition-create [--batch | --script FILE] [--all]\n"
	"                                  [--config FILE] [-p PROFILE]\n"
	"\n"
	"Walks through the creation and teardown of one child partition, one\n"
	"hypercall of the root partition at a time: the call and its decoded\n"
	"input, the VM exit that carried it, what the hypervisor changed\n"
	"(partition state, memory pool, the child's EPT, VMCS fields written)\n"
	"and what it cost in cycles.\n"
	"\n"
	"Options:\n"
	"      --batch        run to the end, printing every step, no prompts\n"
	"      --script FILE  read the commands from FILE, one a line ('#' starts\n"
	"                     a comment); at its end, run on to the end\n"
	"      --all          show every hypercall (by default the root's polling\n"
	"                     while the child runs is folded into one line)\n"
	"      --config FILE  a run configuration (docs/config.md) instead of the\n"
	"                     built-in one; its first child is created\n"
	"  -p, --profile NAME microarchitecture profile (default: the config's)\n"
	"\n"
	"Commands at the prompt:\n"
	"  Enter, s, step  the next hypercall\n"
	"  c, continue     run to the end without asking again\n"
	"  regs            the caller's registers at the VMCALL, and after it\n"
	"  vmcs            the current VMCS's non-zero fields, by name\n"
	"  ept             the child's EPT mappings: GPA ranges -> HPA\n"
	"  disas           the instructions at the guest RIP of the VMCALL\n"
	"  help            this list\n"
	"  q, quit         stop the simulation and leave\n";

enum lab_cmd { CMD_STEP, CMD_CONTINUE, CMD_REGS, CMD_VMCS, CMD_EPT, CMD_DISAS, CMD_HELP, CMD_QUIT, CMD_NONE };

static const struct {
	const char *name;
	enum lab_cmd cmd;
} lab_cmds[] = {
	{ "", CMD_STEP }, { "s", CMD_STEP }, { "step", CMD_STEP }, { "c", CMD_CONTINUE },
	{ "continue", CMD_CONTINUE }, { "regs", CMD_REGS }, { "vmcs", CMD_VMCS }, { "ept", CMD_EPT },
	{ "disas", CMD_DISAS }, { "help", CMD_HELP }, { "?", CMD_HELP }, { "q", CMD_QUIT }, { "quit", CMD_QUIT },
};

/* A command line without its comment and surrounding blanks; CMD_NONE
 * for a line that is only a comment. */
static int lab_parse_cmd(char *line, enum lab_cmd *out)
{
	char *hash = strchr(line, '#'), *p = line, *e;
	int comment = hash != NULL;

	if (hash)
		*hash = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	e = p + strlen(p);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	if (comment && !*p) {
		*out = CMD_NONE;
		return 0;
	}
	for (size_t i = 0; i < sizeof(lab_cmds) / sizeof(lab_cmds[0]); i++) {
		if (!strcmp(p, lab_cmds[i].name)) {
			*out = lab_cmds[i].cmd;
			return 0;
		}
	}
	memmove(line, p, strlen(p) + 1);
	return -EINVAL;
}

/* ---- what the lab keeps ---- */

#define LAB_MAX_WRITES 512
#define LAB_MAX_GPA 8192
#define LAB_MAX_EVENTS 32
#define LAB_MAX_VPS 16

struct lab_vmwrite {
	uint64_t vmcs;
	uint32_t enc;
	uint64_t value;
};

struct lab_gpa {
	uint64_t gpa, hpa, flags;
};

struct lab_script {
	char **lines;
	unsigned *lineno;
	size_t n, next;
};

struct lab {
	struct machine *m;
	struct cpu *lp;
	FILE *out;
	int batch, all, go_on, quit, interactive;
	const char *script_name;
	struct lab_script script;

	/* what the machine is doing */
	uint64_t root;			/* the root partition's id (the first VP run) */
	int root_known;
	uint64_t cur_part;		/* the partition of the VP the LP runs */
	uint32_t cur_vp;
	uint64_t child;			/* the child partition created, 0 until then */
	uint64_t child_eptp;		/* its EPT pointer (HV_MARK_EPT), 0 = none */
	struct { uint64_t partition, vmcs; uint32_t vp; } vps[LAB_MAX_VPS];
	unsigned nvps;
	struct { uint64_t partition, free, total; } pools[8];
	unsigned npools;

	/* the call in flight (from its VMCALL exit) */
	int in_call;
	struct cpu_exit_info exit;
	struct cpu_regs regs;		/* GPRs at the VMCALL; rip..cr4 from the VMCS guest area */
	uint64_t caller_vmcs, caller_eptp;
	uint64_t caller_part;
	uint32_t caller_vp;
	uint8_t in[HV_PAGE_SIZE];
	size_t in_len;			/* bytes of the input block read */
	uint64_t out_hpa;		/* the output page, ~0 = not mapped */

	/* what it changed */
	struct lab_vmwrite writes[LAB_MAX_WRITES];
	unsigned nwrites, writes_lost;
	struct lab_gpa gpas[LAB_MAX_GPA];
	unsigned ngpas, gpas_lost;
	char events[LAB_MAX_EVENTS][160];
	unsigned nevents;

	/* the step just shown */
	unsigned step;
	struct cpu_hcall last;
	struct cpu_regs after;
	int have_step;

	/* folded polling */
	int waiting;			/* after the first NotifyLongSpinWait */
	unsigned fold_spins, fold_gets, fold_posts, child_calls, child_exits;
	uint64_t fold_first, fold_cycles;
};

static void lab_printf(struct lab *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lab_printf(struct lab *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(l->out, fmt, ap);
	va_end(ap);
}

static void lab_event(struct lab *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lab_event(struct lab *l, const char *fmt, ...)
{
	va_list ap;

	if (l->nevents >= LAB_MAX_EVENTS)
		return;
	va_start(ap, fmt);
	vsnprintf(l->events[l->nevents++], sizeof(l->events[0]), fmt, ap);
	va_end(ap);
}

/* ---- EPT (SDM Vol. 3C 29.3.2), read from simulated memory ---- */

#define EPT_ADDR 0x000ffffffffff000ull

static uint64_t ept_entry(struct lab *l, uint64_t table, unsigned i)
{
	uint64_t e = 0;

	if (cpu_read_phys(l->lp, (table & EPT_ADDR) + 8 * i, &e, 8))
		return 0;
	return e;
}

/* GPA -> HPA through the EPT whose pointer is `eptp`; ~0 if not mapped. */
static uint64_t ept_translate(struct lab *l, uint64_t eptp, uint64_t gpa)
{
	uint64_t t = eptp;

	for (int level = 3; level >= 0; level--) {
		uint64_t e = ept_entry(l, t, (gpa >> (12 + 9 * level)) & 511);

		if (!(e & 7))
			return ~0ull;
		if (level == 0 || (level <= 2 && (e & (1ull << 7)))) {
			uint64_t size = 1ull << (12 + 9 * level);

			return (e & EPT_ADDR & ~(size - 1)) | (gpa & (size - 1));
		}
		t = e;
	}
	return ~0ull;
}

struct ept_range {
	uint64_t gpa, hpa, len, flags;
	unsigned n;
};

static void ept_flags_text(uint64_t f, char *buf, size_t len)
{
	static const char *const mt[8] = { "UC", "WC", "mt2", "mt3", "WT", "WP", "WB", "mt7" };

	snprintf(buf, len, "%c%c%c %s", (f & 1) ? 'R' : '-', (f & 2) ? 'W' : '-', (f & 4) ? 'X' : '-',
		 mt[(f >> 3) & 7]);
}

static void ept_range_print(struct lab *l, const struct ept_range *r)
{
	char fl[16];

	ept_flags_text(r->flags, fl, sizeof(fl));
	lab_printf(l, "    GPA 0x%09llx-0x%09llx -> HPA 0x%09llx  %s  (%llu KiB)\n", (unsigned long long)r->gpa,
		   (unsigned long long)(r->gpa + r->len - 1), (unsigned long long)r->hpa, fl,
		   (unsigned long long)(r->len >> 10));
}

static void ept_add(struct lab *l, struct ept_range *r, uint64_t gpa, uint64_t hpa, uint64_t len, uint64_t flags)
{
	if (r->len && r->gpa + r->len == gpa && r->hpa + r->len == hpa && r->flags == flags) {
		r->len += len;
		return;
	}
	if (r->len) {
		ept_range_print(l, r);
		r->n++;
	}
	r->gpa = gpa;
	r->hpa = hpa;
	r->len = len;
	r->flags = flags;
}

static void ept_walk(struct lab *l, uint64_t table, int level, uint64_t base, struct ept_range *r)
{
	for (unsigned i = 0; i < 512; i++) {
		uint64_t e = ept_entry(l, table, i), gpa = base + ((uint64_t)i << (12 + 9 * level));

		if (!(e & 7))
			continue;
		if (level == 0 || (level <= 2 && (e & (1ull << 7)))) {
			uint64_t size = 1ull << (12 + 9 * level);

			ept_add(l, r, gpa, e & EPT_ADDR & ~(size - 1), size, e & 0x3f);
		} else {
			ept_walk(l, e, level - 1, gpa, r);
		}
	}
}

static void lab_show_ept(struct lab *l)
{
	struct ept_range r = { 0 };

	if (!l->child_eptp) {
		lab_printf(l, "  the child has no EPT now (InitializePartition builds it, FinalizePartition tears it down)\n");
		return;
	}
	lab_printf(l, "  EPT of partition %llu, EPTP 0x%llx (PML4 at 0x%llx):\n", (unsigned long long)l->child,
		   (unsigned long long)l->child_eptp, (unsigned long long)(l->child_eptp & EPT_ADDR));
	ept_walk(l, l->child_eptp, 3, 0, &r);
	if (r.len) {
		ept_range_print(l, &r);
		r.n++;
	}
	if (!r.n)
		lab_printf(l, "    (nothing mapped)\n");
}

/* ---- names ---- */

static const char *call_name(uint16_t code)
{
	const struct hvcall_desc *d = hvcall_find(code);

	return d ? d->name : "(unknown call)";
}

static const char *part_state_event(uint32_t ev)
{
	switch (ev) {
	case HV_MARK_PART_CREATED: return "created: state Uninitialized";
	case HV_MARK_PART_INITIALIZED: return "initialized: Uninitialized -> Active";
	case HV_MARK_PART_FINALIZED: return "finalized: -> Finalized";
	case HV_MARK_PART_DELETED: return "deleted";
	default: return "changed state";
	}
}

static const char *property_name(uint32_t code)
{
	switch (code) {
	case HV_PARTITION_PROPERTY_PRIVILEGE_FLAGS: return "PrivilegeFlags";
	case HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES: return "SyntheticProcFeatures";
	case HV_PARTITION_PROPERTY_GUEST_OS_ID: return "GuestOsId";
	case HV_PARTITION_PROPERTY_COMPATIBILITY_VERSION: return "CompatibilityVersion";
	default: return "(property)";
	}
}

static const char *register_name(uint32_t name, char *buf, size_t len)
{
	static const struct {
		uint32_t name;
		const char *text;
	} regs[] = {
		{ HV_REGISTER_EXPLICIT_SUSPEND, "ExplicitSuspend" },
		{ HV_REGISTER_INTERCEPT_SUSPEND, "InterceptSuspend" },
		{ HV_REGISTER_DISPATCH_SUSPEND, "DispatchSuspend" },
		{ HV_REGISTER_INTERNAL_ACTIVITY_STATE, "InternalActivityState" },
		{ HV_X64_REGISTER_RAX, "Rax" }, { HV_X64_REGISTER_RCX, "Rcx" }, { HV_X64_REGISTER_RDX, "Rdx" },
		{ HV_X64_REGISTER_RBX, "Rbx" }, { HV_X64_REGISTER_RSP, "Rsp" }, { HV_X64_REGISTER_RBP, "Rbp" },
		{ HV_X64_REGISTER_RSI, "Rsi" }, { HV_X64_REGISTER_RDI, "Rdi" }, { HV_X64_REGISTER_RIP, "Rip" },
		{ HV_X64_REGISTER_RFLAGS, "Rflags" }, { HV_X64_REGISTER_CR0, "Cr0" }, { HV_X64_REGISTER_CR2, "Cr2" },
		{ HV_X64_REGISTER_CR3, "Cr3" }, { HV_X64_REGISTER_CR4, "Cr4" }, { HV_X64_REGISTER_CR8, "Cr8" },
		{ HV_X64_REGISTER_ES, "Es" }, { HV_X64_REGISTER_CS, "Cs" }, { HV_X64_REGISTER_SS, "Ss" },
		{ HV_X64_REGISTER_DS, "Ds" }, { HV_X64_REGISTER_FS, "Fs" }, { HV_X64_REGISTER_GS, "Gs" },
		{ HV_X64_REGISTER_LDTR, "Ldtr" }, { HV_X64_REGISTER_TR, "Tr" }, { HV_X64_REGISTER_IDTR, "Idtr" },
		{ HV_X64_REGISTER_GDTR, "Gdtr" }, { HV_X64_REGISTER_EFER, "Efer" }, { HV_X64_REGISTER_PAT, "Pat" },
	};

	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		if (regs[i].name == name)
			return regs[i].text;
	snprintf(buf, len, "0x%08x", name);
	return buf;
}

/* The TLFS register value as its kind is written. */
static void register_value(uint32_t name, const union hv_register_value *v, char *buf, size_t len)
{
	if (name >= HV_X64_REGISTER_ES && name <= HV_X64_REGISTER_TR)
		snprintf(buf, len, "selector 0x%x base 0x%llx limit 0x%x attributes 0x%x", v->segment.selector,
			 (unsigned long long)v->segment.base, v->segment.limit, v->segment.attributes);
	else if (name == HV_X64_REGISTER_IDTR || name == HV_X64_REGISTER_GDTR)
		snprintf(buf, len, "base 0x%llx limit 0x%x", (unsigned long long)v->table.base, v->table.limit);
	else
		snprintf(buf, len, "0x%llx", (unsigned long long)v->reg64);
}

/* ---- decoding a call's input and output (REFERENCE.md 2.3, tlfs.h) ---- */

static uint64_t in64(const struct lab *l, size_t off)
{
	uint64_t v = 0;

	if (off + 8 <= l->in_len)
		memcpy(&v, l->in + off, 8);
	return v;
}

static uint32_t in32(const struct lab *l, size_t off)
{
	uint32_t v = 0;

	if (off + 4 <= l->in_len)
		memcpy(&v, l->in + off, 4);
	return v;
}

/* A list of page numbers as ascending runs. */
static void print_page_list(struct lab *l, const char *what, const uint8_t *p, size_t avail, unsigned first,
			    unsigned n)
{
	unsigned runs = 0, shown = 0;

	if ((size_t)(first + n) * 8 > avail) {
		lab_printf(l, "      %s: %u page numbers (past the input page: not shown)\n", what, n);
		return;
	}
	lab_printf(l, "      %s: %u page%s", what, n, n == 1 ? "" : "s");
	for (unsigned i = first; i < first + n;) {
		uint64_t a, b;
		unsigned j = i + 1;

		memcpy(&a, p + 8 * i, 8);
		b = a;
		while (j < first + n) {
			uint64_t x;

			memcpy(&x, p + 8 * j, 8);
			if (x != b + 1)
				break;
			b = x;
			j++;
		}
		if (shown < 4) {
			if (a == b)
				lab_printf(l, "%s0x%llx", shown ? ", " : ": PFN ", (unsigned long long)a);
			else
				lab_printf(l, "%s0x%llx-0x%llx", shown ? ", " : ": PFN ", (unsigned long long)a,
					   (unsigned long long)b);
			shown++;
		}
		runs++;
		i = j;
	}
	if (runs > shown)
		lab_printf(l, ", ... (%u runs)", runs);
	lab_printf(l, "\n");
}

static void map_flags_text(uint32_t f, char *buf, size_t len)
{
	snprintf(buf, len, "0x%x (%s%s%s%s%s)", f, (f & HV_MAP_GPA_READABLE) ? "R" : "-",
		 (f & HV_MAP_GPA_WRITABLE) ? "W" : "-", (f & HV_MAP_GPA_KERNEL_EXECUTABLE) ? "Xk" : "-",
		 (f & HV_MAP_GPA_USER_EXECUTABLE) ? "Xu" : "-", (f & HV_MAP_GPA_NOT_CACHED) ? " not cached" : "");
}

static void decode_input(struct lab *l, const struct hvcall_ctl *ctl)
{
	unsigned reps = ctl->rep_count, start = ctl->rep_start;
	char b1[64], b2[160];

	switch (ctl->code) {
	case HVCALL_CREATE_PARTITION:
		lab_printf(l, "      flags 0x%llx, proximity_domain_info 0x%llx, compatibility_version 0x%x,\n"
			      "      disabled_processor_features 0x%llx 0x%llx, disabled_xsave 0x%llx, isolation 0x%llx\n",
			   (unsigned long long)in64(l, 0), (unsigned long long)in64(l, 8), in32(l, 16),
			   (unsigned long long)in64(l, 24), (unsigned long long)in64(l, 32),
			   (unsigned long long)in64(l, 40), (unsigned long long)in64(l, 48));
		break;
	case HVCALL_INITIALIZE_PARTITION:
	case HVCALL_FINALIZE_PARTITION:
	case HVCALL_DELETE_PARTITION:
		lab_printf(l, "      partition_id %llu\n", (unsigned long long)in64(l, 0));
		break;
	case HVCALL_GET_PARTITION_PROPERTY:
		lab_printf(l, "      partition_id %llu, property_code 0x%x (%s)\n", (unsigned long long)in64(l, 0),
			   in32(l, 8), property_name(in32(l, 8)));
		break;
	case HVCALL_SET_PARTITION_PROPERTY:
		lab_printf(l, "      partition_id %llu, property_code 0x%x (%s), property_value 0x%llx\n",
			   (unsigned long long)in64(l, 0), in32(l, 8), property_name(in32(l, 8)),
			   (unsigned long long)in64(l, 16));
		break;
	case HVCALL_DEPOSIT_MEMORY:
		lab_printf(l, "      partition_id %llu%s\n", (unsigned long long)in64(l, 0),
			   in64(l, 0) == HV_PARTITION_ID_SELF ? " (HV_PARTITION_ID_SELF: the caller's own pool)" : "");
		print_page_list(l, "pages", l->in + 8, l->in_len - 8, start, reps - start);
		break;
	case HVCALL_WITHDRAW_MEMORY:
		lab_printf(l, "      partition_id %llu, proximity_domain_info 0x%llx, up to %u pages\n",
			   (unsigned long long)in64(l, 0), (unsigned long long)in64(l, 8), reps - start);
		break;
	case HVCALL_MAP_GPA_PAGES:
		map_flags_text(in32(l, 16), b1, sizeof(b1));
		lab_printf(l, "      target_partition_id %llu, target_gpa_base PFN 0x%llx (this invocation from GPA 0x%llx),\n"
			      "      map_flags %s\n",
			   (unsigned long long)in64(l, 0), (unsigned long long)in64(l, 8),
			   (unsigned long long)((in64(l, 8) + start) << 12), b1);
		print_page_list(l, "source", l->in + 24, l->in_len - 24, start, reps - start);
		break;
	case HVCALL_UNMAP_GPA_PAGES:
		lab_printf(l, "      target_partition_id %llu, target_gpa_base PFN 0x%llx, unmap_flags 0x%x, %u pages\n",
			   (unsigned long long)in64(l, 0), (unsigned long long)in64(l, 8), in32(l, 16), reps - start);
		break;
	case HVCALL_CREATE_VP:
		lab_printf(l, "      partition_id %llu, vp_index %u, subnode_type %u, subnode_id 0x%llx,\n"
			      "      proximity_domain_info 0x%llx, flags 0x%llx\n",
			   (unsigned long long)in64(l, 0), in32(l, 8), l->in[15], (unsigned long long)in64(l, 16),
			   (unsigned long long)in64(l, 24), (unsigned long long)in64(l, 32));
		break;
	case HVCALL_GET_VP_REGISTERS:
	case HVCALL_SET_VP_REGISTERS: {
		int set = ctl->code == HVCALL_SET_VP_REGISTERS;
		size_t esz = set ? sizeof(struct hv_register_assoc) : 4;

		lab_printf(l, "      partition_id %llu, vp_index %u, input_vtl %u\n", (unsigned long long)in64(l, 0),
			   in32(l, 8), l->in[12]);
		for (unsigned i = start; i < reps; i++) {
			size_t off = 16 + i * esz;
			struct hv_register_assoc a;

			if (off + esz > l->in_len)
				break;
			if (!set) {
				lab_printf(l, "      [%u] %s\n", i, register_name(in32(l, off), b1, sizeof(b1)));
				continue;
			}
			memcpy(&a, l->in + off, sizeof(a));
			register_value(a.name, &a.value, b2, sizeof(b2));
			lab_printf(l, "      [%u] %s = %s\n", i, register_name(a.name, b1, sizeof(b1)), b2);
		}
		break;
	}
	case HVCALL_NOTIFY_LONG_SPIN_WAIT:
		lab_printf(l, "      spin_count %llu\n", (unsigned long long)in64(l, 0));
		break;
	default:
		if (l->in_len >= 8)
			lab_printf(l, "      first input qwords: 0x%llx 0x%llx\n", (unsigned long long)in64(l, 0),
				   (unsigned long long)in64(l, 8));
		break;
	}
}

static void decode_output(struct lab *l, const struct hvcall_ctl *ctl, const struct cpu_hcall *k)
{
	uint8_t out[HV_PAGE_SIZE];
	char b1[64], b2[160];

	/* A rep call's completed elements are output whatever the status
	 * (WithdrawMemory ends with NO_RESOURCES when the pool is empty). */
	if ((k->status && !k->reps) || l->out_hpa == ~0ull ||
	    cpu_read_phys(l->lp, l->out_hpa, out, sizeof(out) - (l->out_hpa & 0xfff)))
		return;
	switch (ctl->code) {
	case HVCALL_CREATE_PARTITION:
	case HVCALL_GET_PARTITION_ID:
	case HVCALL_GET_PARTITION_PROPERTY: {
		uint64_t v;

		memcpy(&v, out, 8);
		lab_printf(l, "    output: %s %llu\n", ctl->code == HVCALL_GET_PARTITION_PROPERTY ? "property_value" :
			   "partition_id", (unsigned long long)v);
		break;
	}
	case HVCALL_WITHDRAW_MEMORY:
		print_page_list(l, "output: pages withdrawn", out, sizeof(out) - (l->out_hpa & 0xfff), ctl->rep_start,
				k->reps);
		break;
	case HVCALL_GET_VP_REGISTERS:
		for (unsigned i = ctl->rep_start; i < ctl->rep_start + k->reps; i++) {
			union hv_register_value v;
			uint32_t name = in32(l, 16 + 4 * i);

			if ((i + 1) * sizeof(v) > sizeof(out) - (l->out_hpa & 0xfff))
				break;
			memcpy(&v, out + i * sizeof(v), sizeof(v));
			register_value(name, &v, b2, sizeof(b2));
			lab_printf(l, "    output: [%u] %s = %s\n", i, register_name(name, b1, sizeof(b1)), b2);
		}
		break;
	default:
		break;
	}
}

/* ---- showing a step ---- */

static const char *vmcs_label(struct lab *l, uint64_t vmcs, char *buf, size_t len)
{
	for (unsigned i = 0; i < l->nvps; i++) {
		if (l->vps[i].vmcs == vmcs) {
			snprintf(buf, len, "partition %llu VP %u%s", (unsigned long long)l->vps[i].partition,
				 l->vps[i].vp, vmcs == l->caller_vmcs ? ", the caller's" : "");
			return buf;
		}
	}
	if (vmcs == l->caller_vmcs)
		snprintf(buf, len, "partition %llu VP %u, the caller's", (unsigned long long)l->caller_part,
			 l->caller_vp);
	else
		snprintf(buf, len, "another VMCS");
	return buf;
}

static void print_writes(struct lab *l)
{
	unsigned done[LAB_MAX_WRITES] = { 0 };
	char label[80];

	if (!l->nwrites) {
		lab_printf(l, "  VMCS writes: none\n");
		return;
	}
	lab_printf(l, "  VMCS writes (VMWRITE by the hypervisor, in order, by VMCS):\n");
	for (unsigned i = 0; i < l->nwrites; i++) {
		uint64_t vmcs = l->writes[i].vmcs;
		unsigned n = 0;

		if (done[i])
			continue;
		for (unsigned j = i; j < l->nwrites; j++)
			n += l->writes[j].vmcs == vmcs;
		lab_printf(l, "    VMCS 0x%llx (%s): %u write%s\n", (unsigned long long)vmcs,
			   vmcs_label(l, vmcs, label, sizeof(label)), n, n == 1 ? "" : "s");
		for (unsigned j = i; j < l->nwrites; j++) {
			const char *name;

			if (l->writes[j].vmcs != vmcs)
				continue;
			done[j] = 1;
			name = cpu_vmcs_field_name(l->writes[j].enc);
			lab_printf(l, "      %-36s (0x%04x) = 0x%llx\n", name ? name : "?", l->writes[j].enc,
				   (unsigned long long)l->writes[j].value);
		}
	}
	if (l->writes_lost)
		lab_printf(l, "    (%u more not kept)\n", l->writes_lost);
}

/* The GPA pages mapped or unmapped, as runs of consecutive GPA and HPA. */
static void print_gpas(struct lab *l)
{
	unsigned runs = 0;

	for (unsigned i = 0; i < l->ngpas;) {
		const struct lab_gpa *a = &l->gpas[i];
		unsigned j = i + 1;
		char fl[16];

		while (j < l->ngpas && l->gpas[j].gpa == a->gpa + 4096ull * (j - i) && l->gpas[j].flags == a->flags &&
		       (a->flags ? l->gpas[j].hpa == a->hpa + 4096ull * (j - i) : 1))
			j++;
		if (runs < 8) {
			if (a->flags) {
				ept_flags_text(a->flags, fl, sizeof(fl));
				lab_printf(l, "    EPT of partition %llu: mapped GPA 0x%llx-0x%llx -> HPA 0x%llx %s (%u page%s)\n",
					   (unsigned long long)l->child, (unsigned long long)a->gpa,
					   (unsigned long long)(a->gpa + 4096ull * (j - i) - 1), (unsigned long long)a->hpa,
					   fl, j - i, j - i == 1 ? "" : "s");
			} else {
				lab_printf(l, "    EPT of partition %llu: unmapped GPA 0x%llx-0x%llx (%u page%s)\n",
					   (unsigned long long)l->child, (unsigned long long)a->gpa,
					   (unsigned long long)(a->gpa + 4096ull * (j - i) - 1), j - i, j - i == 1 ? "" : "s");
			}
		}
		runs++;
		i = j;
	}
	if (runs > 8)
		lab_printf(l, "    ... %u runs of pages in all\n", runs);
	if (l->gpas_lost)
		lab_printf(l, "    (%u more pages not kept)\n", l->gpas_lost);
}

static void print_fold(struct lab *l)
{
	if (!l->fold_spins && !l->fold_gets)
		return;
	lab_printf(l, "\n      ... the root waits for the child: %u x HvCallNotifyLongSpinWait and %u x "
		      "HvCallGetVpRegisters\n          (polling its state) over %llu cycles; meanwhile the child "
		      "made %u hypercalls and had %u VM exits\n", l->fold_spins, l->fold_gets,
		   (unsigned long long)l->fold_cycles, l->child_calls, l->child_exits);
	if (l->fold_posts)
		lab_printf(l, "          and the root posted %u x HvCallPostMessage (the messages the child asked "
			      "for)\n", l->fold_posts);
	lab_printf(l, "          (--all shows each call)\n");
	l->fold_spins = l->fold_gets = l->fold_posts = 0;
	l->fold_cycles = 0;
	l->child_calls = l->child_exits = 0;
}

static void print_step(struct lab *l, const struct cpu_hcall *k)
{
	struct hvcall_ctl ctl;
	const char *reason = cpu_vmx_exit_reason_name(l->exit.reason & 0xffff);
	uint64_t total = k->exit + k->dispatch + k->body + k->entry;

	hvcall_decode(l->regs.rcx, &ctl);
	l->step++;
	lab_printf(l, "\nstep %u: %s (call code 0x%04x) from partition %llu VP %u\n", l->step, call_name(k->code),
		   k->code, (unsigned long long)k->partition, k->vp);
	lab_printf(l, "  call:   control 0x%016llx: %s%s, rep count %u, rep start %u\n",
		   (unsigned long long)l->regs.rcx, ctl.fast ? "fast (register input)" : "memory input",
		   ctl.var_qwords ? ", variable header" : "", ctl.rep_count, ctl.rep_start);
	if (ctl.fast)
		lab_printf(l, "    input in RDX 0x%llx, R8 0x%llx:\n", (unsigned long long)l->regs.rdx,
			   (unsigned long long)l->regs.r8);
	else
		lab_printf(l, "    input GPA 0x%llx, output GPA 0x%llx; input:\n", (unsigned long long)l->regs.rdx,
			   (unsigned long long)l->regs.r8);
	decode_input(l, &ctl);
	lab_printf(l, "  result: %s (0x%04x), %u rep%s completed%s\n", hv_status_name(k->status), k->status, k->reps,
		   k->reps == 1 ? "" : "s", k->continued ? ", continued: RIP not advanced, the call runs again" : "");
	decode_output(l, &ctl, k);
	lab_printf(l, "  VM exit: %s (reason %u), qualification 0x%llx, instruction length %u,\n"
		      "    guest RIP 0x%llx, LP %u, cycle %llu\n",
		   reason ? reason : "?", l->exit.reason & 0xffff, (unsigned long long)l->exit.qual, l->exit.insn_len,
		   (unsigned long long)l->exit.guest_rip, cpu_index(l->lp), (unsigned long long)l->exit.cycle);
	lab_printf(l, "  hypervisor changed:%s\n", l->nevents || l->ngpas ? "" : " no partition, pool or EPT state");
	for (unsigned i = 0; i < l->nevents; i++)
		lab_printf(l, "    %s\n", l->events[i]);
	print_gpas(l);
	print_writes(l);
	lab_printf(l, "  cycles: %llu = exit %llu + dispatch %llu + body %llu + entry %llu\n",
		   (unsigned long long)total, (unsigned long long)k->exit, (unsigned long long)k->dispatch,
		   (unsigned long long)k->body, (unsigned long long)k->entry);
}

/* ---- commands ---- */

static void lab_show_regs(struct lab *l)
{
	const struct cpu_regs *r = &l->regs, *a = &l->after;

	lab_printf(l, "  the caller's registers at the VMCALL (partition %llu VP %u):\n",
		   (unsigned long long)l->last.partition, l->last.vp);
	lab_printf(l, "    rax 0x%016llx rbx 0x%016llx rcx 0x%016llx rdx 0x%016llx\n", (unsigned long long)r->rax,
		   (unsigned long long)r->rbx, (unsigned long long)r->rcx, (unsigned long long)r->rdx);
	lab_printf(l, "    rsi 0x%016llx rdi 0x%016llx rbp 0x%016llx rsp 0x%016llx\n", (unsigned long long)r->rsi,
		   (unsigned long long)r->rdi, (unsigned long long)r->rbp, (unsigned long long)r->rsp);
	lab_printf(l, "    r8  0x%016llx r9  0x%016llx r10 0x%016llx r11 0x%016llx\n", (unsigned long long)r->r8,
		   (unsigned long long)r->r9, (unsigned long long)r->r10, (unsigned long long)r->r11);
	lab_printf(l, "    r12 0x%016llx r13 0x%016llx r14 0x%016llx r15 0x%016llx\n", (unsigned long long)r->r12,
		   (unsigned long long)r->r13, (unsigned long long)r->r14, (unsigned long long)r->r15);
	lab_printf(l, "    rip 0x%016llx rflags 0x%llx cr0 0x%llx cr3 0x%llx cr4 0x%llx efer 0x%llx\n",
		   (unsigned long long)r->rip, (unsigned long long)r->rflags, (unsigned long long)r->cr0,
		   (unsigned long long)r->cr3, (unsigned long long)r->cr4, (unsigned long long)r->efer);
	lab_printf(l, "  after the call: rax 0x%016llx (status in 15:0, reps completed in 43:32), rip 0x%llx\n",
		   (unsigned long long)a->rax, (unsigned long long)a->rip);
}

static void lab_show_vmcs(struct lab *l)
{
	uint64_t cur = cpu_vmcs_current(l->lp), v;
	uint32_t enc;
	const char *name;
	char label[80];
	unsigned n = 0;

	if (cur == ~0ull) {
		lab_printf(l, "  no current VMCS\n");
		return;
	}
	lab_printf(l, "  current VMCS 0x%llx (%s), non-zero fields:\n", (unsigned long long)cur,
		   vmcs_label(l, cur, label, sizeof(label)));
	for (size_t i = 0; !cpu_vmcs_field(i, &enc, &name); i++) {
		if (cpu_vmcs_read(l->lp, enc, &v) || !v)
			continue;
		lab_printf(l, "    %-40s (0x%04x) = 0x%llx\n", name, enc, (unsigned long long)v);
		n++;
	}
	lab_printf(l, "  %u non-zero fields\n", n);
}

/* Disassembly lines, indented. */
static void print_indented(struct lab *l, const char *text)
{
	while (*text) {
		const char *nl = strchr(text, '\n');
		int n = nl ? (int)(nl - text) : (int)strlen(text);

		lab_printf(l, "    %.*s\n", n, text);
		text += n + (nl ? 1 : 0);
	}
}

static void lab_show_disas(struct lab *l)
{
	char buf[2048];
	uint64_t ret = 0;
	int n = cpu_disas(l->lp, l->exit.guest_rip, 4, buf, sizeof(buf));

	lab_printf(l, "  at the guest RIP of the VMCALL (the hypercall page):\n");
	if (n <= 0)
		lab_printf(l, "    (cannot read 0x%llx)\n", (unsigned long long)l->exit.guest_rip);
	else
		print_indented(l, buf);
	/* The page is entered by a CALL: the caller's return address is
	 * on its stack (vid.c raw_call). */
	if (!cpu_read_linear(l->lp, l->after.rsp, &ret, 8) && ret) {
		n = cpu_disas(l->lp, ret, 4, buf, sizeof(buf));
		lab_printf(l, "  the caller, from the return address on its stack (0x%llx):\n", (unsigned long long)ret);
		if (n > 0)
			print_indented(l, buf);
	}
}

static void lab_quit(struct lab *l)
{
	l->quit = 1;
	machine_note_end(l->m, MACHINE_END_LIMIT, "the lab was told to quit");
}

/* The next command: from the script, or the terminal. 0, or -1 at the
 * end of the input. */
static int lab_read(struct lab *l, char *buf, size_t len)
{
	if (l->script_name) {
		if (l->script.next >= l->script.n)
			return -1;
		snprintf(buf, len, "%s", l->script.lines[l->script.next++]);
		lab_printf(l, "lab> %s\n", buf);
		return 0;
	}
#ifdef HVSIM_HAVE_LIBEDIT
	if (l->interactive) {
		char *s;

		fflush(l->out);
		s = readline("lab> ");
		if (!s)
			return -1;
		if (*s)
			add_history(s);
		snprintf(buf, len, "%s", s);
		free(s);
		return 0;
	}
#endif
	lab_printf(l, "lab> ");
	fflush(l->out);
	if (!fgets(buf, (int)len, stdin))
		return -1;
	return 0;
}

static void lab_prompt(struct lab *l)
{
	char buf[256];

	while (!l->go_on && !l->quit) {
		enum lab_cmd cmd;

		if (lab_read(l, buf, sizeof(buf))) {
			if (l->script_name) {
				l->go_on = 1;	/* the script's end: run on */
			} else {
				lab_printf(l, "\n");
				lab_quit(l);
			}
			return;
		}
		if (lab_parse_cmd(buf, &cmd)) {
			/* Scripts were checked before the run: a terminal typo. */
			lab_printf(l, "  unknown command '%s' (try 'help')\n", buf);
			continue;
		}
		switch (cmd) {
		case CMD_NONE:
			break;
		case CMD_STEP:
			return;
		case CMD_CONTINUE:
			l->go_on = 1;
			return;
		case CMD_REGS:
			lab_show_regs(l);
			break;
		case CMD_VMCS:
			lab_show_vmcs(l);
			break;
		case CMD_EPT:
			lab_show_ept(l);
			break;
		case CMD_DISAS:
			lab_show_disas(l);
			break;
		case CMD_HELP:
			lab_printf(l, "%s", strstr(lab_usage, "Commands at the prompt:"));
			break;
		case CMD_QUIT:
			lab_quit(l);
			return;
		}
	}
}

/* ---- the observer ---- */

static void reset_changes(struct lab *l)
{
	l->nwrites = l->writes_lost = 0;
	l->ngpas = l->gpas_lost = 0;
	l->nevents = 0;
}

static void on_vm_exit(void *opaque, struct cpu *c, const struct cpu_exit_info *x)
{
	struct lab *l = opaque;
	struct hvcall_ctl ctl;

	if (l->quit)
		return;
	reset_changes(l);
	l->in_call = 0;
	if (l->root_known && l->cur_part != l->root) {
		l->child_exits++;
		return;
	}
	if ((x->reason & 0xffff) != EXIT_REASON_VMCALL || (x->reason & EXIT_REASON_FAILED_VMENTRY))
		return;
	l->in_call = 1;
	l->exit = *x;
	cpu_get_regs(c, &l->regs);
	cpu_vmcs_read(c, VMCS_GUEST_RIP, &l->regs.rip);
	cpu_vmcs_read(c, VMCS_GUEST_RSP, &l->regs.rsp);
	cpu_vmcs_read(c, VMCS_GUEST_RFLAGS, &l->regs.rflags);
	cpu_vmcs_read(c, VMCS_GUEST_CR0, &l->regs.cr0);
	cpu_vmcs_read(c, VMCS_GUEST_CR3, &l->regs.cr3);
	cpu_vmcs_read(c, VMCS_GUEST_CR4, &l->regs.cr4);
	cpu_vmcs_read(c, VMCS_GUEST_IA32_EFER, &l->regs.efer);
	l->caller_vmcs = cpu_vmcs_current(c);
	l->caller_part = l->cur_part;
	l->caller_vp = l->cur_vp;
	l->caller_eptp = 0;
	cpu_vmcs_read(c, VMCS_EPT_POINTER, &l->caller_eptp);
	hvcall_decode(l->regs.rcx, &ctl);
	memset(l->in, 0, sizeof(l->in));
	l->in_len = 0;
	l->out_hpa = ~0ull;
	if (ctl.fast) {
		memcpy(l->in, &l->regs.rdx, 8);
		memcpy(l->in + 8, &l->regs.r8, 8);
		l->in_len = 16;
	} else {
		/* The caller's GPAs through its EPT: snapshot the input now,
		 * read the output at the entry. */
		uint64_t hpa = ept_translate(l, l->caller_eptp, l->regs.rdx);

		if (hpa != ~0ull && !cpu_read_phys(c, hpa, l->in, HV_PAGE_SIZE - (hpa & 0xfff)))
			l->in_len = HV_PAGE_SIZE - (hpa & 0xfff);
		l->out_hpa = ept_translate(l, l->caller_eptp, l->regs.r8);
	}
}

static void on_vmwrite(void *opaque, struct cpu *c, uint64_t vmcs, uint32_t enc, uint64_t value)
{
	struct lab *l = opaque;

	(void)c;
	if (!l->in_call)
		return;
	if (l->nwrites < LAB_MAX_WRITES)
		l->writes[l->nwrites++] = (struct lab_vmwrite){ vmcs, enc, value };
	else
		l->writes_lost++;
}

static void pool_note(struct lab *l, const struct hv_mark_pool *r)
{
	unsigned i;

	for (i = 0; i < l->npools; i++)
		if (l->pools[i].partition == r->partition)
			break;
	if (i == l->npools) {
		if (l->npools == sizeof(l->pools) / sizeof(l->pools[0]))
			return;
		l->npools++;
		l->pools[i].partition = r->partition;
		l->pools[i].free = l->pools[i].total = 0;
	}
	if (l->in_call)
		lab_event(l, "pool of partition %llu: %llu -> %llu pages free; deposited %llu -> %llu",
			  (unsigned long long)r->partition, (unsigned long long)l->pools[i].free,
			  (unsigned long long)r->free, (unsigned long long)l->pools[i].total,
			  (unsigned long long)r->total);
	l->pools[i].free = r->free;
	l->pools[i].total = r->total;
}

static void on_marker(void *opaque, struct cpu *c, unsigned id, uint64_t value, uint64_t cycle)
{
	struct lab *l = opaque;

	(void)cycle;
	if (l->quit)
		return;
	switch (id) {
	case HV_MARK_RUN_VP:
		l->cur_part = value >> 32;
		l->cur_vp = (uint32_t)value;
		if (!l->root_known) {
			l->root = l->cur_part;
			l->root_known = 1;
		}
		break;
	case HV_MARK_PARTITION: {
		struct hv_mark_partition r;

		/* The root's own creation comes before it runs: only what a
		 * call of the root does is news. */
		if (cpu_read_linear(c, value, &r, sizeof(r)) || !l->in_call)
			break;
		if (r.event == HV_MARK_PART_CREATED && !l->child)
			l->child = r.partition;
		if (l->in_call)
			lab_event(l, "partition %llu %s", (unsigned long long)r.partition, part_state_event(r.event));
		break;
	}
	case HV_MARK_POOL: {
		struct hv_mark_pool r;

		if (!cpu_read_linear(c, value, &r, sizeof(r)))
			pool_note(l, &r);
		break;
	}
	case HV_MARK_GPA: {
		struct hv_mark_gpa r;

		if (cpu_read_linear(c, value, &r, sizeof(r)) || r.partition != l->child || !l->in_call)
			break;
		if (l->ngpas < LAB_MAX_GPA)
			l->gpas[l->ngpas++] = (struct lab_gpa){ r.gpa, r.hpa, r.ept_flags };
		else
			l->gpas_lost++;
		break;
	}
	case HV_MARK_EPT: {
		struct hv_mark_ept r;

		if (cpu_read_linear(c, value, &r, sizeof(r)) || r.partition != l->child)
			break;
		l->child_eptp = r.eptp;
		if (l->in_call && r.eptp)
			lab_event(l, "EPT of partition %llu built: EPTP 0x%llx, PML4 at 0x%llx (from its pool)",
				  (unsigned long long)r.partition, (unsigned long long)r.eptp,
				  (unsigned long long)(r.eptp & EPT_ADDR));
		else if (l->in_call)
			lab_event(l, "EPT of partition %llu torn down: its mappings and tables went back to its pool",
				  (unsigned long long)r.partition);
		break;
	}
	case HV_MARK_VP: {
		struct hv_mark_vp r;
		unsigned i;

		if (cpu_read_linear(c, value, &r, sizeof(r)))
			break;
		for (i = 0; i < l->nvps; i++)
			if (l->vps[i].partition == r.partition && l->vps[i].vp == r.vp)
				break;
		if (i == l->nvps && l->nvps < LAB_MAX_VPS)
			l->nvps++;
		if (i < LAB_MAX_VPS)
			l->vps[i].partition = r.partition, l->vps[i].vp = r.vp, l->vps[i].vmcs = r.vmcs ? r.vmcs : ~1ull;
		if (l->in_call && r.vmcs)
			lab_event(l, "VP %u of partition %llu created: VMCS at 0x%llx, state INIT, explicitly suspended",
				  r.vp, (unsigned long long)r.partition, (unsigned long long)r.vmcs);
		else if (l->in_call)
			lab_event(l, "VP %u of partition %llu freed (its VMCS VMCLEARed, back to the pool)", r.vp,
				  (unsigned long long)r.partition);
		break;
	}
	default:
		break;
	}
}

/* What the root does while it waits for the child: give the LP away,
 * look at the child's state, post the messages the child asked for
 * (partitions/root/childmsg.c). */
static int is_poll(uint16_t code)
{
	return code == HVCALL_NOTIFY_LONG_SPIN_WAIT || code == HVCALL_GET_VP_REGISTERS || code == HVCALL_POST_MESSAGE;
}

static void on_hypercall(void *opaque, struct cpu *c, const struct cpu_hcall *k)
{
	struct lab *l = opaque;
	uint64_t total = k->exit + k->dispatch + k->body + k->entry;

	if (l->quit)
		return;
	if (!l->in_call || k->partition != l->root) {
		l->child_calls++;
		return;
	}
	l->in_call = 0;
	if (!l->all && l->waiting && is_poll(k->code)) {
		l->fold_spins += k->code == HVCALL_NOTIFY_LONG_SPIN_WAIT;
		l->fold_gets += k->code == HVCALL_GET_VP_REGISTERS;
		l->fold_posts += k->code == HVCALL_POST_MESSAGE;
		l->fold_cycles += total;
		reset_changes(l);
		return;
	}
	if (!is_poll(k->code))
		l->waiting = 0;
	print_fold(l);
	print_step(l, k);
	if (k->code == HVCALL_NOTIFY_LONG_SPIN_WAIT)
		l->waiting = 1;
	l->last = *k;
	cpu_get_regs(c, &l->after);
	l->have_step = 1;
	reset_changes(l);
	if (!l->batch)
		lab_prompt(l);
	fflush(l->out);
}

/* ---- the script, checked whole before the run ---- */

static void script_free(struct lab_script *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->lines[i]);
	free(s->lines);
	free(s->lineno);
	memset(s, 0, sizeof(*s));
}

static int script_load(const char *path, struct lab_script *s)
{
	FILE *f = fopen(path, "r");
	char buf[512];
	unsigned line = 0;
	int rc = 0;

	if (!f) {
		diag_error("%s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(buf, sizeof(buf), f)) {
		enum lab_cmd cmd;
		char **nl;
		unsigned *nn;

		line++;
		if (!strchr(buf, '\n') && !feof(f)) {
			diag_error("%s:%u: the line is longer than %zu characters", path, line, sizeof(buf) - 2);
			rc = -EINVAL;
			break;
		}
		if (lab_parse_cmd(buf, &cmd)) {
			diag_error("%s:%u: unknown command '%s' (commands: Enter, s, step, c, continue, regs, vmcs, ept, disas, help, q, quit)",
				   path, line, buf);
			rc = -EINVAL;
			break;
		}
		if (cmd == CMD_NONE)
			continue;
		nl = realloc(s->lines, (s->n + 1) * sizeof(*nl));
		if (nl)
			s->lines = nl;
		nn = realloc(s->lineno, (s->n + 1) * sizeof(*nn));
		if (nn)
			s->lineno = nn;
		if (!nl || !nn || !(s->lines[s->n] = strdup(buf))) {
			rc = -ENOMEM;
			break;
		}
		s->lineno[s->n++] = line;
	}
	if (!rc && ferror(f)) {
		diag_error("%s: %s", path, strerror(EIO));
		rc = -EIO;
	}
	fclose(f);
	if (rc)
		script_free(s);
	return rc;
}

/* ---- the command ---- */

static void print_end(struct lab *l)
{
	size_t len;
	const char *uart = machine_uart_output(l->m, &len), *p, *line = NULL;

	print_fold(l);
	lab_printf(l, "\nend of the run: %s\n", machine_end_text(l->m));
	/* The root kernel's verdict: its last "root: N passed, M failed". */
	for (p = uart; p && p < uart + len; p++)
		if ((p == uart || p[-1] == '\n') && (size_t)(uart + len - p) > 6 && !strncmp(p, "root: ", 6))
			line = p;
	if (line) {
		const char *e = memchr(line, '\n', (size_t)(uart + len - line));

		lab_printf(l, "the root partition kernel says: %.*s\n", (int)(e ? e - line : uart + len - line), line);
	}
	lab_printf(l, "%u steps shown\n", l->step);
}

int cli_lab(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "batch", no_argument, NULL, 'b' }, { "script", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' }, { "all", no_argument, NULL, 'a' },
		{ "profile", required_argument, NULL, 'p' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct lab *l;
	struct config *cfg = NULL;
	struct cli_run *run = NULL;
	struct cli_machine_opts co = { 0 };
	struct cpu_observer obs = { on_vm_exit, on_vmwrite, on_marker, on_hypercall, NULL };
	const char *config_path = NULL;
	int opt, status = EXIT_USAGE, rc;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(lab_usage, stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "partition-create")) {
		diag_error(argc < 2 ? "lab: which lab? (partition-create)" : "lab: unknown lab '%s' (partition-create)",
			   argc < 2 ? "" : argv[1]);
		fprintf(stderr, "Try 'hvsim lab --help'.\n");
		return EXIT_USAGE;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return EXIT_USAGE;
	l->out = stdout;
	optind = 1;
	argc--;
	argv++;
	while ((opt = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			l->batch = 1;
			break;
		case 's':
			l->script_name = optarg;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'a':
			l->all = 1;
			break;
		case 'p':
			co.profile = optarg;
			break;
		case 'h':
			fputs(lab_usage, stdout);
			free(l);
			return 0;
		default:
			fprintf(stderr, "Try 'hvsim lab --help'.\n");
			goto out;
		}
	}
	if (optind < argc) {
		diag_error("lab partition-create: unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (l->batch && l->script_name) {
		diag_error("lab partition-create: --batch and --script exclude each other");
		goto out;
	}
	if (l->script_name && script_load(l->script_name, &l->script))
		goto out;
	l->interactive = !l->batch && !l->script_name && isatty(STDIN_FILENO);
	rc = config_path ? config_load(config_path, &cfg) :
			   config_parse(lab_config, sizeof(lab_config) - 1, "the lab's built-in configuration", &cfg);
	if (rc)
		goto out;
	if (!cfg->npartitions) {
		diag_error("%s: no partitions: the lab creates the first child the configuration describes",
			   cfg->source);
		goto out;
	}
	cfg->npartitions = 1;
	if (cli_machine_from_config(cfg, &co, &l->m, &run))
		goto out;
	l->lp = machine_lp(l->m, 0);
	obs.opaque = l;
	cpu_set_observer(l->lp, &obs);
	lab_printf(l, "hvsim lab partition-create: the root partition creates child '%s' (%s kernel, %llu MiB, %u VP%s)\n"
		      "through hypercalls, lets it run and tears it down.  Each step is one hypercall of the root.\n",
		   cfg->partitions[0].name, cfg->partitions[0].kernel_builtin ? cfg->partitions[0].kernel : "its own",
		   (unsigned long long)(cfg->partitions[0].memory >> 20), cfg->partitions[0].vps,
		   cfg->partitions[0].vps == 1 ? "" : "s");
	if (!l->batch)
		lab_printf(l, "Enter steps, 'c' runs to the end, 'help' lists the commands.\n");
	if (machine_run(l->m)) {
		diag_error("the simulation failed");
		goto out_machine;
	}
	if (l->quit) {
		lab_printf(l, "\nquit after step %u\n", l->step);
		status = 0;
	} else {
		print_end(l);
		if (machine_end_kind(l->m) != MACHINE_END_DEBUG_EXIT) {
			diag_error("%s", machine_end_text(l->m));
			status = EXIT_NO_GUEST_EXIT;
		} else {
			status = machine_exit_value(l->m) == 0 ? 0 : 1;
		}
	}
	fflush(l->out);
out_machine:
	machine_free(l->m);
out:
	free(run);
	config_free(cfg);
	script_free(&l->script);
	free(l);
	return status;
}
