/* Reports: stats.json (versioned schema, units named), stats.txt
 * (gem5-style "name value # description") and the console summary.
 *
 * Everything outside the "host" object of stats.json, and every stats.txt
 * line not under "host.", depends only on the inputs: two runs of the same
 * configuration give identical bytes there (tests/determinism.sh). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apic.h"
#include "cpu.h"
#include "hvcall.h"
#include "diag.h"
#include "hvsim_config.h"
#include "machine.h"

#define STATS_SCHEMA "hvsim-stats"
#define STATS_VERSION 1

static const char *end_name(enum machine_end e)
{
	switch (e) {
	case MACHINE_END_DEBUG_EXIT:
		return "debug-exit";
	case MACHINE_END_SHUTDOWN:
		return "shutdown";
	case MACHINE_END_IDLE:
		return "idle";
	case MACHINE_END_LIMIT:
		return "cycle-limit";
	default:
		return "none";
	}
}

struct totals {
	uint64_t insns, cycles, max_cycles;
};

static struct totals totals(struct machine *m)
{
	struct totals t = { 0, 0, 0 };

	for (unsigned i = 0; i < machine_lp_count(m); i++) {
		const struct cpu_stats *s = cpu_get_stats(machine_lp(m, i));

		t.insns += s->instructions;
		t.cycles += s->busy_cycles;
		if (s->cycles > t.max_cycles)
			t.max_cycles = s->cycles;
	}
	return t;
}

static const char *base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path ? path : "";
}

static double mips(uint64_t insns, double secs)
{
	return secs > 0 ? (double)insns / secs / 1e6 : 0;
}

/* One gem5-style line. */
static void txt(FILE *f, const char *name, const char *value, const char *desc)
{
	fprintf(f, "%-40s %20s  # %s\n", name, value, desc);
}

static void txt_u(FILE *f, const char *name, uint64_t v, const char *desc)
{
	char b[32];

	snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
	txt(f, name, b, desc);
}

static void txt_d(FILE *f, const char *name, double v, int digits, const char *desc)
{
	char b[40];

	snprintf(b, sizeof(b), "%.*f", digits, v);
	txt(f, name, b, desc);
}

/* Name of an exit reason for reports: the SDM's, or "reason_N". */
static const char *reason_name(unsigned reason, char *buf, size_t len)
{
	const char *n = cpu_vmx_exit_reason_name(reason);

	if (n)
		return n;
	snprintf(buf, len, "reason_%u", reason);
	return buf;
}

/* VM entries and exits of one LP; exits by basic reason, in reason
 * order, only those that happened. */
static json_t *vmx_json(const struct cpu_vmx_stats *v)
{
	json_t *o = json_object(), *by = json_object();
	char buf[32];

	json_object_set_new(o, "entries", json_integer((json_int_t)v->entries));
	json_object_set_new(o, "failed_entries", json_integer((json_int_t)v->failed_entries));
	json_object_set_new(o, "exits", json_integer((json_int_t)v->exits));
	json_object_set_new(o, "entry_cycles", json_integer((json_int_t)v->entry_cycles));
	json_object_set_new(o, "exit_cycles", json_integer((json_int_t)v->exit_cycles));
	json_object_set_new(o, "tlb_fills", json_integer((json_int_t)v->tlb_fills));
	json_object_set_new(o, "ept_entry_reads", json_integer((json_int_t)v->ept_entry_reads));
	for (unsigned i = 0; i < CPU_VMX_REASONS; i++) {
		json_t *e;

		if (!v->reason[i].count)
			continue;
		e = json_object();
		json_object_set_new(e, "reason", json_integer(i));
		json_object_set_new(e, "count", json_integer((json_int_t)v->reason[i].count));
		json_object_set_new(e, "cycles", json_integer((json_int_t)v->reason[i].cycles));
		json_object_set_new(by, reason_name(i, buf, sizeof(buf)), e);
	}
	json_object_set_new(o, "exits_by_reason", by);
	return o;
}

/* ---- hypercalls and partitions (the hypervisor's markers) ---- */

struct hc_sum {
	uint16_t code;
	uint64_t count, failed, continued, reps;
	uint64_t exit, dispatch, body, entry;	/* sums */
	uint64_t *total;			/* per call, sorted */
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile (the smallest value with at least p% of the
 * samples at or below it). */
static uint64_t percentile(const uint64_t *v, uint64_t n, unsigned p)
{
	uint64_t rank = (n * p + 99) / 100;

	return v[rank ? rank - 1 : 0];
}

/* Every LP's hypercalls by call code, in code order; *n codes. */
static struct hc_sum *hc_sums(struct machine *m, size_t *n)
{
	struct hc_sum *s = NULL;

	*n = 0;
	for (unsigned i = 0; i < machine_lp_count(m); i++) {
		const struct cpu_hv_stats *h = cpu_get_hv_stats(machine_lp(m, i));

		for (size_t k = 0; k < h->ncalls; k++) {
			const struct cpu_hcall *c = &h->calls[k];
			size_t j;

			for (j = 0; j < *n && s[j].code != c->code; j++)
				;
			if (j == *n) {
				s = realloc(s, (*n + 1) * sizeof(*s));
				if (!s)
					abort();
				memset(&s[j], 0, sizeof(s[j]));
				s[j].code = c->code;
				(*n)++;
			}
			s[j].total = realloc(s[j].total, (s[j].count + 1) * sizeof(uint64_t));
			if (!s[j].total)
				abort();
			s[j].total[s[j].count++] = c->exit + c->dispatch + c->body + c->entry;
			s[j].failed += c->status != 0;
			s[j].continued += c->continued;
			s[j].reps += c->reps;
			s[j].exit += c->exit;
			s[j].dispatch += c->dispatch;
			s[j].body += c->body;
			s[j].entry += c->entry;
		}
	}
	for (size_t j = 0; j < *n; j++)
		qsort(s[j].total, s[j].count, sizeof(uint64_t), cmp_u64);
	for (size_t a = 1; a < *n; a++)		/* code order: insertion sort */
		for (size_t b = a; b && s[b - 1].code > s[b].code; b--) {
			struct hc_sum t = s[b];

			s[b] = s[b - 1];
			s[b - 1] = t;
		}
	return s;
}

static void hc_free(struct hc_sum *s, size_t n)
{
	for (size_t j = 0; j < n; j++)
		free(s[j].total);
	free(s);
}

static const char *hc_name(uint16_t code, char *buf, size_t len)
{
	const struct hvcall_desc *d = hvcall_find(code);

	if (d)
		return d->name;
	snprintf(buf, len, "call_0x%04x", code);
	return buf;
}

static json_t *hypercalls_json(struct machine *m)
{
	json_t *o = json_object();
	size_t n;
	struct hc_sum *s = hc_sums(m, &n);
	char buf[32];

	for (size_t j = 0; j < n; j++) {
		json_t *e = json_object(), *cyc = json_object(), *st = json_object();

		json_object_set_new(e, "code", json_integer(s[j].code));
		json_object_set_new(e, "count", json_integer((json_int_t)s[j].count));
		json_object_set_new(e, "failed", json_integer((json_int_t)s[j].failed));
		json_object_set_new(e, "continued", json_integer((json_int_t)s[j].continued));
		json_object_set_new(e, "reps", json_integer((json_int_t)s[j].reps));
		json_object_set_new(cyc, "min", json_integer((json_int_t)s[j].total[0]));
		json_object_set_new(cyc, "median", json_integer((json_int_t)percentile(s[j].total, s[j].count, 50)));
		json_object_set_new(cyc, "p99", json_integer((json_int_t)percentile(s[j].total, s[j].count, 99)));
		json_object_set_new(cyc, "max", json_integer((json_int_t)s[j].total[s[j].count - 1]));
		json_object_set_new(e, "cycles", cyc);
		json_object_set_new(st, "exit", json_integer((json_int_t)s[j].exit));
		json_object_set_new(st, "dispatch", json_integer((json_int_t)s[j].dispatch));
		json_object_set_new(st, "body", json_integer((json_int_t)s[j].body));
		json_object_set_new(st, "entry", json_integer((json_int_t)s[j].entry));
		json_object_set_new(e, "stage_cycles", st);
		json_object_set_new(o, hc_name(s[j].code, buf, sizeof(buf)), e);
	}
	hc_free(s, n);
	return o;
}

/* ---- interrupt routing (cpu.h struct cpu_irq_stats) ---- */

/* Every LP's samples of one stage of one source kind, sorted. */
static uint64_t *irq_samples(struct machine *m, unsigned kind, unsigned stage, size_t *n)
{
	size_t total = 0, k = 0;
	uint64_t *v;

	for (unsigned i = 0; i < machine_lp_count(m); i++)
		total += cpu_get_irq_stats(machine_lp(m, i))->kind[kind].stage[stage].n;
	*n = total;
	if (!total)
		return NULL;
	v = malloc(total * sizeof(*v));
	if (!v) {
		*n = 0;
		return NULL;
	}
	for (unsigned i = 0; i < machine_lp_count(m); i++) {
		const struct cpu_irq_samples *s = &cpu_get_irq_stats(machine_lp(m, i))->kind[kind].stage[stage];

		memcpy(v + k, s->ps, s->n * sizeof(*v));
		k += s->n;
	}
	qsort(v, total, sizeof(*v), cmp_u64);
	return v;
}

static uint64_t irq_count(struct machine *m, unsigned kind)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < machine_lp_count(m); i++)
		n += cpu_get_irq_stats(machine_lp(m, i))->kind[kind].count;
	return n;
}

static json_t *irq_dist_json(const uint64_t *v, size_t n, uint64_t khz)
{
	json_t *o = json_object();
	const uint64_t at[4] = { v[0], percentile(v, n, 50), percentile(v, n, 99), v[n - 1] };
	static const char *const names[4] = { "min", "median", "p99", "max" };
	char key[16];

	json_object_set_new(o, "count", json_integer((json_int_t)n));
	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "%s_cycles", names[i]);
		json_object_set_new(o, key, json_integer((json_int_t)sim_ps_to_cycles(at[i], khz)));
	}
	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "%s_ns", names[i]);
		json_object_set_new(o, key, json_real((double)at[i] / 1000.0));
	}
	return o;
}

static json_t *interrupts_json(struct machine *m)
{
	json_t *o = json_object();
	uint64_t khz = machine_khz(m);

	for (unsigned k = 0; k < CPU_IRQ_KINDS; k++) {
		uint64_t count = irq_count(m, k);
		json_t *e, *st;

		if (!count)
			continue;
		e = json_object();
		st = json_object();
		json_object_set_new(e, "count", json_integer((json_int_t)count));
		for (unsigned s = 0; s < CPU_IRQ_STAGES; s++) {
			size_t n;
			uint64_t *v = irq_samples(m, k, s, &n);

			if (n)
				json_object_set_new(st, cpu_irq_stage_name(s), irq_dist_json(v, n, khz));
			free(v);
		}
		json_object_set_new(e, "stages", st);
		json_object_set_new(o, irq_source_kind_name(k), e);
	}
	return o;
}

/* The routing table of the summary: per source kind, the median of
 * each stage in nanoseconds. */
static void print_interrupts(struct machine *m, FILE *f)
{
	int header = 0;

	for (unsigned k = 0; k < CPU_IRQ_KINDS; k++) {
		uint64_t count = irq_count(m, k);

		if (!count)
			continue;
		if (!header) {
			fprintf(f, "interrupts:      %-14s %6s   median ns:", "source", "count");
			for (unsigned s = 0; s < CPU_IRQ_STAGES; s++)
				fprintf(f, " %8s", cpu_irq_stage_name(s));
			fprintf(f, "\n");
			header = 1;
		}
		fprintf(f, "  %-29s %6llu             ", irq_source_kind_name(k), (unsigned long long)count);
		for (unsigned s = 0; s < CPU_IRQ_STAGES; s++) {
			size_t n;
			uint64_t *v = irq_samples(m, k, s, &n);

			if (n)
				fprintf(f, " %8.1f", (double)percentile(v, n, 50) / 1000.0);
			else
				fprintf(f, " %8s", "-");
			free(v);
		}
		fprintf(f, "\n");
	}
}

static const char *part_event_name(uint32_t e)
{
	static const char *const names[] = { "created", "initialized", "finalized", "deleted" };

	return e < sizeof(names) / sizeof(names[0]) ? names[e] : "unknown";
}

/* Partitions by id: lifecycle cycles, and VM exits by reason. */
static json_t *partitions_json(struct machine *m)
{
	json_t *o = json_object();
	char key[32], buf[32];

	for (unsigned i = 0; i < machine_lp_count(m); i++) {
		const struct cpu_hv_stats *h = cpu_get_hv_stats(machine_lp(m, i));

		for (size_t k = 0; k < h->nevents; k++) {
			json_t *p, *life;

			snprintf(key, sizeof(key), "%llu", (unsigned long long)h->events[k].partition);
			p = json_object_get(o, key);
			if (!p) {
				p = json_object();
				json_object_set_new(p, "lifecycle_cycles", json_object());
				json_object_set_new(p, "exits_by_reason", json_object());
				json_object_set_new(o, key, p);
			}
			life = json_object_get(p, "lifecycle_cycles");
			json_object_set_new(life, part_event_name(h->events[k].event),
					    json_integer((json_int_t)h->events[k].cycle));
		}
		for (size_t k = 0; k < h->nparts; k++) {
			json_t *p, *by;

			snprintf(key, sizeof(key), "%llu", (unsigned long long)h->parts[k].partition);
			p = json_object_get(o, key);
			if (!p) {
				p = json_object();
				json_object_set_new(p, "lifecycle_cycles", json_object());
				json_object_set_new(p, "exits_by_reason", json_object());
				json_object_set_new(o, key, p);
			}
			by = json_object_get(p, "exits_by_reason");
			for (unsigned r = 0; r < CPU_VMX_REASONS; r++) {
				json_t *cur;

				if (!h->parts[k].count[r])
					continue;
				cur = json_object_get(by, reason_name(r, buf, sizeof(buf)));
				json_object_set_new(by, reason_name(r, buf, sizeof(buf)),
						    json_integer((json_int_t)(h->parts[k].count[r] +
									      (cur ? (uint64_t)json_integer_value(cur) : 0))));
			}
		}
	}
	return o;
}

static int write_json(struct machine *m, const char *path, const struct machine_report *r)
{
	struct totals t = totals(m);
	uint64_t khz = machine_khz(m);
	uint64_t sim_ps = sim_cycles_to_ps(t.max_cycles, khz);
	json_t *root = json_object(), *lps = json_array(), *units = json_object();
	size_t uart_len = 0;
	int rc = 0;

	machine_uart_output(m, &uart_len);
	json_object_set_new(root, "schema", json_string(STATS_SCHEMA));
	json_object_set_new(root, "version", json_integer(STATS_VERSION));
	json_object_set_new(units, "instructions", json_string("instructions"));
	json_object_set_new(units, "cycles", json_string("LP clock cycles"));
	json_object_set_new(units, "sim_time_ps", json_string("picoseconds of simulated time"));
	json_object_set_new(units, "sim_seconds", json_string("seconds of simulated time"));
	json_object_set_new(units, "frequency_khz", json_string("kHz"));
	json_object_set_new(units, "ram_bytes", json_string("bytes"));
	json_object_set_new(units, "host_seconds", json_string("seconds of host wall-clock time"));
	json_object_set_new(units, "mips", json_string("simulated instructions per host microsecond"));
	json_object_set_new(root, "units", units);

	json_t *prov = json_object();
	json_object_set_new(prov, "simulator", json_string("hvsim " HVSIM_VERSION));
	json_object_set_new(prov, "command", json_string(r->command));
	/* The file name only: where it lies describes the host. */
	json_object_set_new(prov, "image", json_string(base_name(r->image)));
	json_object_set_new(prov, "config", json_string(r->config ? r->config : ""));
	json_object_set_new(prov, "profile", json_string(machine_profile_name(m)));
	json_object_set_new(root, "provenance", prov);

	json_t *mach = json_object();
	json_object_set_new(mach, "lps", json_integer(machine_lp_count(m)));
	json_object_set_new(mach, "ram_bytes", json_integer((json_int_t)machine_ram(m)));
	json_object_set_new(mach, "frequency_khz", json_integer((json_int_t)khz));
	json_object_set_new(mach, "quantum_cycles", json_integer((json_int_t)machine_quantum(m)));
	json_object_set_new(root, "machine", mach);

	json_t *end = json_object();
	json_object_set_new(end, "kind", json_string(end_name(machine_end_kind(m))));
	json_object_set_new(end, "detail", json_string(machine_end_text(m)));
	json_object_set_new(end, "exit_value", json_integer(machine_exit_value(m)));
	json_object_set_new(end, "uart_bytes", json_integer((json_int_t)uart_len));
	json_object_set_new(root, "end", end);

	json_t *tot = json_object();
	json_object_set_new(tot, "instructions", json_integer((json_int_t)t.insns));
	json_object_set_new(tot, "cycles", json_integer((json_int_t)t.cycles));
	json_object_set_new(tot, "sim_time_ps", json_integer((json_int_t)sim_ps));
	json_object_set_new(tot, "sim_seconds", json_real((double)sim_ps / 1e12));
	json_object_set_new(root, "totals", tot);

	for (unsigned i = 0; i < machine_lp_count(m); i++) {
		const struct cpu_stats *s = cpu_get_stats(machine_lp(m, i));
		json_t *lp = json_object();

		json_object_set_new(lp, "index", json_integer(i));
		json_object_set_new(lp, "instructions", json_integer((json_int_t)s->instructions));
		json_object_set_new(lp, "cycles", json_integer((json_int_t)s->cycles));
		json_object_set_new(lp, "busy_cycles", json_integer((json_int_t)s->busy_cycles));
		json_object_set_new(lp, "halted_cycles", json_integer((json_int_t)s->halted_cycles));
		json_object_set_new(lp, "sim_time_ps", json_integer((json_int_t)sim_cycles_to_ps(s->cycles, khz)));
		json_object_set_new(lp, "blocks", json_integer((json_int_t)s->blocks));
		json_object_set_new(lp, "blocks_decoded", json_integer((json_int_t)s->blocks_decoded));
		json_object_set_new(lp, "exceptions", json_integer((json_int_t)s->exceptions));
		json_object_set_new(lp, "msr_accesses", json_integer((json_int_t)s->msr_accesses));
		json_object_set_new(lp, "io_accesses", json_integer((json_int_t)s->io_accesses));
		json_object_set_new(lp, "vmx", vmx_json(cpu_get_vmx_stats(machine_lp(m, i))));
		json_array_append_new(lps, lp);
	}
	json_object_set_new(root, "lps", lps);
	json_object_set_new(root, "hypercalls", hypercalls_json(m));
	json_object_set_new(root, "partitions", partitions_json(m));
	json_object_set_new(root, "interrupts", interrupts_json(m));

	/* Host-dependent fields live here and only here. */
	json_t *host = json_object(), *hlps = json_array();
	json_object_set_new(host, "image_path", json_string(r->image ? r->image : ""));
	json_object_set_new(host, "host_seconds", json_real(r->host_seconds));
	json_object_set_new(host, "mips", json_real(mips(t.insns, r->host_seconds)));
	for (unsigned i = 0; i < machine_lp_count(m); i++) {
		const struct cpu_stats *s = cpu_get_stats(machine_lp(m, i));

		json_array_append_new(hlps, json_real(mips(s->instructions, r->host_seconds)));
	}
	json_object_set_new(host, "lp_mips", hlps);
	json_object_set_new(root, "host", host);

	if (json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9))) {
		diag_error("cannot write %s: %s", path, strerror(errno));
		rc = -EIO;
	}
	json_decref(root);
	return rc;
}

static void write_txt_vmx(FILE *f, unsigned lp, const struct cpu_vmx_stats *v)
{
	char name[96], buf[32];

#define VMXSTAT(field, desc)                                                  \
	do {                                                                  \
		snprintf(name, sizeof(name), "system.lp%u.vmx." #field, lp);  \
		txt_u(f, name, v->field, desc);                               \
	} while (0)
	VMXSTAT(entries, "VM entries that reached the guest (count)");
	VMXSTAT(failed_entries, "VM entries that failed after the checks of the guest state (count)");
	VMXSTAT(exits, "VM exits (count)");
	VMXSTAT(entry_cycles, "VM-entry transition cost charged (cycles)");
	VMXSTAT(exit_cycles, "VM-exit transition cost charged (cycles)");
	VMXSTAT(tlb_fills, "Non-root TLB misses walked (count)");
	VMXSTAT(ept_entry_reads, "EPT entries read by those walks (count)");
#undef VMXSTAT
	for (unsigned i = 0; i < CPU_VMX_REASONS; i++) {
		const char *rn;

		if (!v->reason[i].count)
			continue;
		rn = reason_name(i, buf, sizeof(buf));
		snprintf(name, sizeof(name), "system.lp%u.vmx.exit.%s.count", lp, rn);
		txt_u(f, name, v->reason[i].count, "VM exits for this reason (count)");
		snprintf(name, sizeof(name), "system.lp%u.vmx.exit.%s.cycles", lp, rn);
		txt_u(f, name, v->reason[i].cycles,
		      "From these exits to the next VM entries, both transitions included (cycles)");
	}
}

static void write_txt_hypercalls(FILE *f, struct machine *m)
{
	size_t n;
	struct hc_sum *s = hc_sums(m, &n);
	char name[96], buf[32];

	for (size_t j = 0; j < n; j++) {
		const char *hn = hc_name(s[j].code, buf, sizeof(buf));

#define HCSTAT(field, value, desc)                                            \
	do {                                                                  \
		snprintf(name, sizeof(name), "hypercalls.%s." field, hn);     \
		txt_u(f, name, value, desc);                                  \
	} while (0)
		HCSTAT("count", s[j].count, "Invocations, continuations included (count)");
		HCSTAT("failed", s[j].failed, "Invocations that returned a status other than success (count)");
		HCSTAT("median_cycles", percentile(s[j].total, s[j].count, 50),
		       "Median from the VMCALL to the next VM entry (cycles)");
		HCSTAT("p99_cycles", percentile(s[j].total, s[j].count, 99), "99th percentile of the same (cycles)");
		HCSTAT("exit_cycles", s[j].exit, "VM-exit transitions, summed (cycles)");
		HCSTAT("dispatch_cycles", s[j].dispatch, "Hypervisor dispatch up to the handler body, summed (cycles)");
		HCSTAT("body_cycles", s[j].body, "Handler bodies, summed (cycles)");
		HCSTAT("entry_cycles", s[j].entry, "Return through the VM entry, summed (cycles)");
#undef HCSTAT
	}
	hc_free(s, n);
}

static int write_txt(struct machine *m, const char *path, const struct machine_report *r)
{
	struct totals t = totals(m);
	uint64_t khz = machine_khz(m), sim_ps = sim_cycles_to_ps(t.max_cycles, khz);
	FILE *f = fopen(path, "w");
	char name[64];

	if (!f) {
		diag_error("cannot write %s: %s", path, strerror(errno));
		return -EIO;
	}
	fprintf(f, "---------- Begin Simulation Statistics ----------\n");
	txt_d(f, "sim_seconds", (double)sim_ps / 1e12, 12, "Simulated time (s)");
	txt_u(f, "sim_ticks", sim_ps, "Simulated time (ps)");
	txt_u(f, "sim_freq_khz", khz, "LP clock (kHz)");
	txt_u(f, "sim_insts", t.insns, "Instructions simulated, all LPs (count)");
	txt_u(f, "sim_cycles", t.cycles, "Cycles spent executing, all LPs (cycles)");
	txt(f, "sim_end", end_name(machine_end_kind(m)), "How the run ended");
	txt_u(f, "sim_exit_value", machine_exit_value(m), "Value written to the debug-exit port");
	for (unsigned i = 0; i < machine_lp_count(m); i++) {
		const struct cpu_stats *s = cpu_get_stats(machine_lp(m, i));

#define LPSTAT(field, desc)                                                   \
	do {                                                                  \
		snprintf(name, sizeof(name), "system.lp%u." #field, i);       \
		txt_u(f, name, s->field, desc);                               \
	} while (0)
		LPSTAT(instructions, "Instructions retired (count)");
		LPSTAT(cycles, "LP clock including idle (cycles)");
		LPSTAT(busy_cycles, "Cycles executing (cycles)");
		LPSTAT(halted_cycles, "Cycles idle in HLT or wait-for-SIPI (cycles)");
		LPSTAT(blocks, "Translation blocks executed (count)");
		LPSTAT(blocks_decoded, "Distinct blocks decoded and priced (count)");
		LPSTAT(exceptions, "Exceptions and interrupts delivered through the IDT (count)");
		LPSTAT(msr_accesses, "RDMSR/WRMSR executed (count)");
		LPSTAT(io_accesses, "IN/OUT port accesses (count)");
#undef LPSTAT
		write_txt_vmx(f, i, cpu_get_vmx_stats(machine_lp(m, i)));
	}
	write_txt_hypercalls(f, m);
	txt_d(f, "host.seconds", r->host_seconds, 6, "Host wall-clock time (s)");
	txt_d(f, "host.mips", mips(t.insns, r->host_seconds), 6, "Simulated instructions per host microsecond");
	fprintf(f, "---------- End Simulation Statistics   ----------\n");
	if (fclose(f)) {
		diag_error("cannot write %s: %s", path, strerror(errno));
		return -EIO;
	}
	return 0;
}

int machine_write_stats(struct machine *m, const char *dir, const struct machine_report *r)
{
	char path[4096];
	int rc;

	snprintf(path, sizeof(path), "%s/stats.json", dir);
	rc = write_json(m, path, r);
	snprintf(path, sizeof(path), "%s/stats.txt", dir);
	if (!rc)
		rc = write_txt(m, path, r);
	return rc;
}

/* Hypercall costs per call code: median cycles and the mean of each
 * stage (which sum to the mean total). */
static void print_hypercalls(struct machine *m, FILE *f)
{
	size_t n;
	struct hc_sum *s = hc_sums(m, &n);
	char buf[32];

	if (n) {
		fprintf(f, "hypercalls:      %-28s %6s %8s %8s   mean: %6s %8s %6s %6s\n", "call", "count", "median",
			"p99", "exit", "dispatch", "body", "entry");
		for (size_t j = 0; j < n; j++)
			fprintf(f, "  0x%04x %-28s %6llu %8llu %8llu         %6llu %8llu %6llu %6llu\n", s[j].code,
				hc_name(s[j].code, buf, sizeof(buf)), (unsigned long long)s[j].count,
				(unsigned long long)percentile(s[j].total, s[j].count, 50),
				(unsigned long long)percentile(s[j].total, s[j].count, 99),
				(unsigned long long)(s[j].exit / s[j].count),
				(unsigned long long)(s[j].dispatch / s[j].count),
				(unsigned long long)(s[j].body / s[j].count),
				(unsigned long long)(s[j].entry / s[j].count));
	}
	hc_free(s, n);
}

void machine_print_summary(struct machine *m, FILE *f, const struct machine_report *r)
{
	struct totals t = totals(m);
	uint64_t khz = machine_khz(m), sim_ps = sim_cycles_to_ps(t.max_cycles, khz);

	fprintf(f, "\n==== hvsim %s: %s ====\n", r->command, r->image ? r->image : "");
	fprintf(f, "end:             %s (%s)\n", end_name(machine_end_kind(m)), machine_end_text(m));
	fprintf(f, "profile:         %s, %u LP(s), %llu kHz\n", machine_profile_name(m), machine_lp_count(m),
		(unsigned long long)khz);
	fprintf(f, "instructions:    %llu\n", (unsigned long long)t.insns);
	fprintf(f, "cycles:          %llu\n", (unsigned long long)t.cycles);
	fprintf(f, "simulated time:  %.9f s\n", (double)sim_ps / 1e12);
	fprintf(f, "host time:       %.3f s\n", r->host_seconds);
	fprintf(f, "simulated MIPS:  %.1f\n", mips(t.insns, r->host_seconds));
	for (unsigned i = 0; i < machine_lp_count(m) && machine_lp_count(m) > 1; i++) {
		const struct cpu_stats *s = cpu_get_stats(machine_lp(m, i));

		fprintf(f, "  lp%u: %llu instructions, %llu cycles (%llu halted)\n", i,
			(unsigned long long)s->instructions, (unsigned long long)s->cycles,
			(unsigned long long)s->halted_cycles);
	}
	print_hypercalls(m, f);
	print_interrupts(m, f);
}
