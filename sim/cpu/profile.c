/* Microarchitecture profile loader (schema: the comment at the top of
 * sim/cpu/profiles/sandybridge.yaml).
 *
 * The file is user input: every value is validated and every problem is
 * reported as "file:line:col: reason" before anything is returned.  The
 * parser walks libyaml's event stream with a fixed shape in mind and stops
 * at the first event that does not fit, so no input can make it recurse or
 * allocate without bound. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "diag.h"
#include "profile.h"

/* Upper bounds that keep block arithmetic far from overflow and a hostile
 * file from exhausting memory; no real profile comes near them. */
#define PROFILE_MAX_COST	10000000u	/* cycles per class */
#define PROFILE_MAX_ENTRIES	4096		/* cpuid entries, msrs */
#define PROFILE_MAX_FILE	(16u << 20)	/* bytes */

static const char *const cost_keys[COST_NCLASSES] = {
	[COST_ALU] = "alu",
	[COST_MUL] = "mul",
	[COST_DIV] = "div",
	[COST_LOAD] = "load",
	[COST_STORE] = "store",
	[COST_BRANCH] = "branch",
	[COST_CALL] = "call",
	[COST_RET] = "ret",
	[COST_STACK] = "stack",
	[COST_STRING] = "string",
	[COST_FP] = "fp",
	[COST_SIMD] = "simd",
	[COST_SERIAL] = "serial",
	[COST_MSR] = "msr",
	[COST_TSC] = "tsc",
	[COST_IO] = "io",
	[COST_INT] = "int",
	[COST_NOP] = "nop",
	[COST_PAUSE] = "pause",
	[COST_HLT] = "hlt",
	[COST_OTHER] = "other",
};

const char *cost_class_name(enum cost_class c)
{
	if ((unsigned)c >= COST_NCLASSES)
		return "invalid";
	return cost_keys[c];
}

/* Parser state: one libyaml parser and the event being looked at. */
struct pp {
	yaml_parser_t yp;
	yaml_event_t ev;
	bool have_ev;
	const char *file;
	struct cpu_profile *prof;
	size_t cap_cpuid, cap_msrs;
	yaml_mark_t *cpuid_marks;	/* where each entry began, for duplicates */
	yaml_mark_t *msr_marks;
};

static int pp_err(struct pp *pp, yaml_mark_t m, const char *fmt, ...) SIM_PRINTF(3, 4);

static int pp_err(struct pp *pp, yaml_mark_t m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* libyaml marks are 0-based; editors count from 1. */
	diag_verror_at(pp->file, (unsigned)m.line + 1, (unsigned)m.column + 1, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int pp_next(struct pp *pp)
{
	if (pp->have_ev) {
		yaml_event_delete(&pp->ev);
		pp->have_ev = false;
	}
	if (!yaml_parser_parse(&pp->yp, &pp->ev)) {
		const char *problem = pp->yp.problem ? pp->yp.problem : "malformed YAML";

		if (pp->yp.context)
			return pp_err(pp, pp->yp.problem_mark, "%s %s", pp->yp.context, problem);
		return pp_err(pp, pp->yp.problem_mark, "%s", problem);
	}
	pp->have_ev = true;
	/* Aliases could make one node appear in several places (and, in
	 * general YAML, expand without bound); a profile never needs them. */
	if (pp->ev.type == YAML_ALIAS_EVENT)
		return pp_err(pp, pp->ev.start_mark, "aliases are not supported in a profile");
	return 0;
}

static const char *ev_text(const struct pp *pp)
{
	return (const char *)pp->ev.data.scalar.value;
}

static const char *ev_kind(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return "a scalar";
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_STREAM_END_EVENT:
		return "end of file";
	case YAML_DOCUMENT_START_EVENT:
		return "another document";
	default:
		return "something else";
	}
}

/* The event must be a scalar; `what` names the expected value. */
static int want_scalar(struct pp *pp, const char *what)
{
	if (pp->ev.type != YAML_SCALAR_EVENT)
		return pp_err(pp, pp->ev.start_mark, "expected %s, found %s", what, ev_kind(&pp->ev));
	return 0;
}

static bool scalar_is_plain(const struct pp *pp)
{
	return pp->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* Unsigned integer: decimal without leading zeros, or 0x/0X hexadecimal.
 * Numbers are plain scalars only, so a quoted "5" is a string, not 5. */
static int parse_uint(struct pp *pp, const char *what, uint64_t max, uint64_t *out)
{
	const char *s;
	size_t len, i = 0;
	unsigned base = 10;
	uint64_t v = 0;
	int rc = want_scalar(pp, what);

	if (rc)
		return rc;
	s = ev_text(pp);
	len = pp->ev.data.scalar.length;
	if (!scalar_is_plain(pp))
		return pp_err(pp, pp->ev.start_mark, "%s: expected a number, found a quoted string", what);
	if (len == 0)
		return pp_err(pp, pp->ev.start_mark, "%s: missing value", what);
	if (s[0] == '-')
		return pp_err(pp, pp->ev.start_mark, "%s: negative value '%s' not allowed", what, s);
	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (len == 2)
			return pp_err(pp, pp->ev.start_mark, "%s: '%s' has no hexadecimal digits", what, s);
		base = 16;
		i = 2;
	} else if (len > 1 && s[0] == '0') {
		/* YAML 1.1 reads 010 as octal, YAML 1.2 as decimal: refuse both. */
		return pp_err(pp, pp->ev.start_mark, "%s: '%s' has a leading zero (write decimal or 0x hex)",
			      what, s);
	}
	for (; i < len; i++) {
		unsigned d;
		char c = s[i];

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return pp_err(pp, pp->ev.start_mark, "%s: '%s' is not a %s integer", what, s,
				      base == 16 ? "hexadecimal" : "decimal");
		if (v > (UINT64_MAX - d) / base)
			return pp_err(pp, pp->ev.start_mark, "%s: '%s' does not fit in 64 bits", what, s);
		v = v * base + d;
	}
	if (v > max)
		return pp_err(pp, pp->ev.start_mark, "%s: %s is out of range (maximum %llu)", what, s,
			      (unsigned long long)max);
	*out = v;
	return 0;
}

static int parse_u32(struct pp *pp, const char *what, uint32_t *out)
{
	uint64_t v;
	int rc = parse_uint(pp, what, UINT32_MAX, &v);

	if (!rc)
		*out = (uint32_t)v;
	return rc;
}

/* YAML 1.2 core-schema booleans only. */
static int parse_bool(struct pp *pp, const char *what, bool *out)
{
	static const char *const t[] = { "true", "True", "TRUE" };
	static const char *const f[] = { "false", "False", "FALSE" };
	int rc = want_scalar(pp, what);

	if (rc)
		return rc;
	if (scalar_is_plain(pp)) {
		for (size_t i = 0; i < 3; i++) {
			if (!strcmp(ev_text(pp), t[i])) {
				*out = true;
				return 0;
			}
			if (!strcmp(ev_text(pp), f[i])) {
				*out = false;
				return 0;
			}
		}
	}
	return pp_err(pp, pp->ev.start_mark, "%s: expected true or false, found '%s'", what, ev_text(pp));
}

/* A string into a fixed buffer of `size` bytes (NUL included). */
static int parse_string(struct pp *pp, const char *what, char *buf, size_t size)
{
	const char *s;
	size_t len;
	int rc = want_scalar(pp, what);

	if (rc)
		return rc;
	s = ev_text(pp);
	len = pp->ev.data.scalar.length;
	if (scalar_is_plain(pp) &&
	    (len == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL")))
		return pp_err(pp, pp->ev.start_mark, "%s: missing value", what);
	if (strlen(s) != len)
		return pp_err(pp, pp->ev.start_mark, "%s: contains a NUL character", what);
	if (len >= size)
		return pp_err(pp, pp->ev.start_mark, "%s: longer than %zu characters", what, size - 1);
	memcpy(buf, s, len + 1);
	return 0;
}

/* Reads the next mapping key.  Returns 1 with the key in the current
 * event, 0 at the end of the mapping, or a negative errno. */
static int next_key(struct pp *pp)
{
	int rc = pp_next(pp);

	if (rc)
		return rc;
	if (pp->ev.type == YAML_MAPPING_END_EVENT)
		return 0;
	if (pp->ev.type != YAML_SCALAR_EVENT)
		return pp_err(pp, pp->ev.start_mark, "expected a key, found %s", ev_kind(&pp->ev));
	return 1;
}

/* Index of the current key in `keys`, or a reported error: unknown key or
 * a key seen before (bit set in *seen). */
static int match_key(struct pp *pp, const char *const *keys, size_t nkeys, uint32_t *seen,
		     const char *where)
{
	for (size_t i = 0; i < nkeys; i++) {
		if (strcmp(ev_text(pp), keys[i]))
			continue;
		if (*seen & (1u << i))
			return pp_err(pp, pp->ev.start_mark, "duplicate key '%s'%s", keys[i], where);
		*seen |= 1u << i;
		return (int)i;
	}
	return pp_err(pp, pp->ev.start_mark, "unknown key '%s'%s", ev_text(pp), where);
}

static const char *const vmx_cost_keys[VMX_NCOSTS] = {
	"vm_exit", "vm_entry", "vmread", "vmwrite", "vmptrld", "vmptrst", "vmclear", "vmxon", "vmxoff",
	"invept", "invvpid", "ept_entry",
};

/* A mapping naming every key of `keys` once, each a cost in cycles. */
static int parse_cost_map(struct pp *pp, const char *section, const char *const *keys, int n, uint32_t *out)
{
	yaml_mark_t start = pp->ev.start_mark;
	uint32_t seen = 0;
	char where[40];
	int rc;

	snprintf(where, sizeof(where), " in %s", section);
	if (pp->ev.type != YAML_MAPPING_START_EVENT)
		return pp_err(pp, start, "%s: expected a mapping of costs, found %s", section, ev_kind(&pp->ev));
	while ((rc = next_key(pp)) == 1) {
		char what[48];
		uint64_t v;
		int k = match_key(pp, keys, (size_t)n, &seen, where);

		if (k < 0)
			return k;
		snprintf(what, sizeof(what), "%s.%s", section, keys[k]);
		rc = pp_next(pp);
		if (!rc)
			rc = parse_uint(pp, what, PROFILE_MAX_COST, &v);
		if (rc)
			return rc;
		out[k] = (uint32_t)v;
	}
	if (rc)
		return rc;
	for (int k = 0; k < n; k++) {
		if (!(seen & (1u << k)))
			return pp_err(pp, start, "%s: missing '%s'", section, keys[k]);
	}
	return 0;
}

static int grow(struct pp *pp, void **arr, yaml_mark_t **marks, size_t *cap, size_t n, size_t elem,
		const char *what)
{
	size_t ncap;
	void *na;
	yaml_mark_t *nm;

	if (n < *cap)
		return 0;
	if (n >= PROFILE_MAX_ENTRIES)
		return pp_err(pp, pp->ev.start_mark, "%s: more than %d entries", what, PROFILE_MAX_ENTRIES);
	ncap = *cap ? *cap * 2 : 32;
	na = realloc(*arr, ncap * elem);
	if (!na)
		return -ENOMEM;
	*arr = na;
	nm = realloc(*marks, ncap * sizeof(**marks));
	if (!nm)
		return -ENOMEM;
	*marks = nm;
	*cap = ncap;
	return 0;
}

enum { CK_LEAF, CK_SUBLEAF, CK_EAX, CK_EBX, CK_ECX, CK_EDX, CK_N };
static const char *const cpuid_keys[CK_N] = { "leaf", "subleaf", "eax", "ebx", "ecx", "edx" };

static int parse_cpuid_entry(struct pp *pp)
{
	struct cpu_profile *p = pp->prof;
	yaml_mark_t start = pp->ev.start_mark;
	struct profile_cpuid e = { 0 };
	uint32_t seen = 0, *regs[CK_N] = { &e.leaf, &e.subleaf, &e.eax, &e.ebx, &e.ecx, &e.edx };
	int rc;

	if (pp->ev.type != YAML_MAPPING_START_EVENT)
		return pp_err(pp, start, "cpuid: expected an entry {leaf:, eax:, ebx:, ecx:, edx:}, found %s",
			      ev_kind(&pp->ev));
	while ((rc = next_key(pp)) == 1) {
		char what[32];
		int k = match_key(pp, cpuid_keys, CK_N, &seen, " in cpuid entry");

		if (k < 0)
			return k;
		snprintf(what, sizeof(what), "cpuid.%s", cpuid_keys[k]);
		rc = pp_next(pp);
		if (!rc)
			rc = parse_u32(pp, what, regs[k]);
		if (rc)
			return rc;
	}
	if (rc)
		return rc;
	for (int k = 0; k < CK_N; k++) {
		if (k != CK_SUBLEAF && !(seen & (1u << k)))
			return pp_err(pp, start, "cpuid entry: missing key '%s'", cpuid_keys[k]);
	}
	e.any_subleaf = !(seen & (1u << CK_SUBLEAF));

	/* Two entries answering the same (leaf, subleaf) would make the
	 * table ambiguous; an any-subleaf entry next to specific ones is a
	 * documented fallback, not a duplicate. */
	for (size_t i = 0; i < p->ncpuid; i++) {
		const struct profile_cpuid *o = &p->cpuid[i];

		if (o->leaf != e.leaf || o->any_subleaf != e.any_subleaf ||
		    (!e.any_subleaf && o->subleaf != e.subleaf))
			continue;
		if (e.any_subleaf)
			return pp_err(pp, start, "duplicate cpuid leaf 0x%x (first at line %lu)", e.leaf,
				      (unsigned long)pp->cpuid_marks[i].line + 1);
		return pp_err(pp, start, "duplicate cpuid leaf 0x%x subleaf %u (first at line %lu)", e.leaf,
			      e.subleaf, (unsigned long)pp->cpuid_marks[i].line + 1);
	}
	rc = grow(pp, (void **)&p->cpuid, &pp->cpuid_marks, &pp->cap_cpuid, p->ncpuid, sizeof(e), "cpuid");
	if (rc)
		return rc;
	pp->cpuid_marks[p->ncpuid] = start;
	p->cpuid[p->ncpuid++] = e;
	return 0;
}

enum { MK_INDEX, MK_NAME, MK_RESET, MK_WMASK, MK_RO, MK_N };
static const char *const msr_keys[MK_N] = { "index", "name", "reset", "write_mask", "read_only" };

static int parse_msr_entry(struct pp *pp)
{
	struct cpu_profile *p = pp->prof;
	yaml_mark_t start = pp->ev.start_mark;
	struct profile_msr m = { 0 };
	bool ro = false;
	uint32_t seen = 0;
	int rc;

	if (pp->ev.type != YAML_MAPPING_START_EVENT)
		return pp_err(pp, start, "msrs: expected an entry {index:, name:, reset:, write_mask:}, found %s",
			      ev_kind(&pp->ev));
	while ((rc = next_key(pp)) == 1) {
		int k = match_key(pp, msr_keys, MK_N, &seen, " in msr entry");

		if (k < 0)
			return k;
		rc = pp_next(pp);
		if (rc)
			return rc;
		switch (k) {
		case MK_INDEX:
			rc = parse_u32(pp, "msrs.index", &m.index);
			break;
		case MK_NAME:
			rc = parse_string(pp, "msrs.name", m.name, sizeof(m.name));
			break;
		case MK_RESET:
			rc = parse_uint(pp, "msrs.reset", UINT64_MAX, &m.reset);
			break;
		case MK_WMASK:
			rc = parse_uint(pp, "msrs.write_mask", UINT64_MAX, &m.write_mask);
			break;
		default:
			rc = parse_bool(pp, "msrs.read_only", &ro);
			break;
		}
		if (rc)
			return rc;
	}
	if (rc)
		return rc;
	for (int k = 0; k < MK_N; k++) {
		if (k == MK_RO || (k == MK_WMASK && ro))
			continue;
		if (!(seen & (1u << k)))
			return pp_err(pp, start, "msr entry: missing key '%s'", msr_keys[k]);
	}
	if (ro && m.write_mask)
		return pp_err(pp, start, "msr 0x%x (%s): read_only MSR with a non-zero write_mask", m.index,
			      m.name);
	if (ro)
		m.flags |= PROFILE_MSR_RO;
	for (size_t i = 0; i < p->nmsrs; i++) {
		if (p->msrs[i].index == m.index)
			return pp_err(pp, start, "duplicate msr 0x%x (first at line %lu)", m.index,
				      (unsigned long)pp->msr_marks[i].line + 1);
	}
	rc = grow(pp, (void **)&p->msrs, &pp->msr_marks, &pp->cap_msrs, p->nmsrs, sizeof(m), "msrs");
	if (rc)
		return rc;
	pp->msr_marks[p->nmsrs] = start;
	p->msrs[p->nmsrs++] = m;
	return 0;
}

static int parse_list(struct pp *pp, const char *what, int (*entry)(struct pp *))
{
	int rc;

	if (pp->ev.type != YAML_SEQUENCE_START_EVENT)
		return pp_err(pp, pp->ev.start_mark, "%s: expected a list, found %s", what, ev_kind(&pp->ev));
	for (;;) {
		rc = pp_next(pp);
		if (rc)
			return rc;
		if (pp->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		rc = entry(pp);
		if (rc)
			return rc;
	}
}

enum { TK_NAME, TK_DESC, TK_MHZ, TK_KHZ, TK_COSTS, TK_CPUID, TK_MSRS, TK_VMX_COSTS, TK_APIC_MHZ, TK_N };
static const char *const top_keys[TK_N] = {
	"name", "description", "frequency_mhz", "frequency_khz", "costs", "cpuid", "msrs", "vmx_costs",
	"apic_timer_mhz",
};

static int parse_top(struct pp *pp)
{
	struct cpu_profile *p = pp->prof;
	yaml_mark_t start = pp->ev.start_mark;
	uint32_t seen = 0;
	uint64_t v;
	int rc;

	if (pp->ev.type != YAML_MAPPING_START_EVENT)
		return pp_err(pp, start, "a profile is a mapping (name:, frequency_mhz:, costs:, ...), found %s",
			      ev_kind(&pp->ev));
	while ((rc = next_key(pp)) == 1) {
		int k = match_key(pp, top_keys, TK_N, &seen, "");

		if (k < 0)
			return k;
		if ((k == TK_MHZ && (seen & (1u << TK_KHZ))) || (k == TK_KHZ && (seen & (1u << TK_MHZ))))
			return pp_err(pp, pp->ev.start_mark, "give frequency_mhz or frequency_khz, not both");
		rc = pp_next(pp);
		if (rc)
			return rc;
		switch (k) {
		case TK_NAME:
			rc = parse_string(pp, "name", p->name, sizeof(p->name));
			break;
		case TK_DESC:
			rc = parse_string(pp, "description", p->description, sizeof(p->description));
			break;
		case TK_MHZ:
		case TK_KHZ: {
			const char *what = top_keys[k];
			yaml_mark_t at = pp->ev.start_mark;

			rc = parse_uint(pp, what, k == TK_MHZ ? UINT64_MAX / 1000 : UINT64_MAX, &v);
			if (rc)
				break;
			if (v == 0)
				return pp_err(pp, at, "%s: must be greater than 0", what);
			p->freq_khz = k == TK_MHZ ? v * 1000 : v;
			break;
		}
		case TK_APIC_MHZ: {
			yaml_mark_t at = pp->ev.start_mark;

			rc = parse_uint(pp, "apic_timer_mhz", 100000, &v);
			if (rc)
				break;
			if (v == 0)
				return pp_err(pp, at, "apic_timer_mhz: must be greater than 0");
			p->apic_timer_khz = v * 1000;
			break;
		}
		case TK_COSTS:
			rc = parse_cost_map(pp, "costs", cost_keys, COST_NCLASSES, p->cost);
			break;
		case TK_VMX_COSTS:
			rc = parse_cost_map(pp, "vmx_costs", vmx_cost_keys, VMX_NCOSTS, p->vmx_cost);
			p->has_vmx = !rc;
			break;
		case TK_CPUID:
			rc = parse_list(pp, "cpuid", parse_cpuid_entry);
			break;
		case TK_MSRS:
			rc = parse_list(pp, "msrs", parse_msr_entry);
			break;
		default:
			rc = pp_err(pp, pp->ev.start_mark, "unknown key");
			break;
		}
		if (rc)
			return rc;
	}
	if (rc)
		return rc;
	if (!(seen & (1u << TK_NAME)))
		return pp_err(pp, start, "missing required key 'name'");
	if (!(seen & ((1u << TK_MHZ) | (1u << TK_KHZ))))
		return pp_err(pp, start, "missing required key 'frequency_mhz' (or 'frequency_khz')");
	if (!(seen & (1u << TK_COSTS)))
		return pp_err(pp, start, "missing required key 'costs'");
	if (!p->apic_timer_khz)
		p->apic_timer_khz = PROFILE_APIC_TIMER_KHZ_DEFAULT;
	return 0;
}

static const struct profile_cpuid *cpuid_find(const struct cpu_profile *p, uint32_t leaf, uint32_t subleaf)
{
	const struct profile_cpuid *any = NULL;

	for (size_t i = 0; i < p->ncpuid; i++) {
		const struct profile_cpuid *e = &p->cpuid[i];

		if (e->leaf != leaf)
			continue;
		if (e->any_subleaf)
			any = e;
		else if (e->subleaf == subleaf)
			return e;
	}
	return any;
}

static uint32_t max_basic(const struct cpu_profile *p)
{
	const struct profile_cpuid *e = cpuid_find(p, 0, 0);

	return e ? e->eax : 0;
}

/* Highest extended leaf, or 0 when the profile has no extended range. */
static uint32_t max_extended(const struct cpu_profile *p)
{
	const struct profile_cpuid *e = cpuid_find(p, 0x80000000u, 0);

	return e && e->eax >= 0x80000000u ? e->eax : 0;
}

static bool leaf_in_range(const struct cpu_profile *p, uint32_t leaf)
{
	uint32_t ext = max_extended(p);

	return leaf <= max_basic(p) || (ext && leaf >= 0x80000000u && leaf <= ext);
}

/* A listed leaf that CPUID can never return is a mistake in the file. */
static int check_cpuid_reachable(struct pp *pp)
{
	const struct cpu_profile *p = pp->prof;

	for (size_t i = 0; i < p->ncpuid; i++) {
		uint32_t leaf = p->cpuid[i].leaf;

		if (leaf == 0x80000000u && p->cpuid[i].eax < 0x80000000u)
			return pp_err(pp, pp->cpuid_marks[i],
				      "cpuid leaf 0x80000000: EAX (maximum extended leaf) must be at least 0x80000000");
		if (leaf_in_range(p, leaf))
			continue;
		return pp_err(pp, pp->cpuid_marks[i],
			      "cpuid leaf 0x%x is unreachable: above the maximum basic leaf 0x%x (leaf 0 EAX) and outside the extended range (leaf 0x80000000 EAX)",
			      leaf, max_basic(p));
	}
	return 0;
}

static int msr_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct profile_msr *)a)->index, y = ((const struct profile_msr *)b)->index;

	return (x > y) - (x < y);
}

static int parse_stream(struct pp *pp)
{
	int rc = pp_next(pp);

	if (rc)
		return rc;
	if (pp->ev.type != YAML_STREAM_START_EVENT)
		return pp_err(pp, pp->ev.start_mark, "malformed YAML stream");
	rc = pp_next(pp);
	if (rc)
		return rc;
	if (pp->ev.type == YAML_STREAM_END_EVENT)
		return pp_err(pp, pp->ev.start_mark, "empty profile");
	if (pp->ev.type != YAML_DOCUMENT_START_EVENT)
		return pp_err(pp, pp->ev.start_mark, "malformed YAML stream");
	rc = pp_next(pp);
	if (!rc)
		rc = parse_top(pp);
	if (!rc)
		rc = pp_next(pp);
	if (rc)
		return rc;
	if (pp->ev.type != YAML_DOCUMENT_END_EVENT)
		return pp_err(pp, pp->ev.start_mark, "malformed YAML document");
	rc = pp_next(pp);
	if (rc)
		return rc;
	if (pp->ev.type != YAML_STREAM_END_EVENT)
		return pp_err(pp, pp->ev.start_mark, "a profile file holds exactly one YAML document");
	return check_cpuid_reachable(pp);
}

int profile_load_string(const char *text, size_t len, const char *name, struct cpu_profile **out)
{
	struct pp pp = { .file = name ? name : "<profile>" };
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!text && len)
		return -EINVAL;
	pp.prof = calloc(1, sizeof(*pp.prof));
	if (!pp.prof)
		return -ENOMEM;
	if (!yaml_parser_initialize(&pp.yp)) {
		free(pp.prof);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&pp.yp, (const unsigned char *)(text ? text : ""), len);
	rc = parse_stream(&pp);
	if (pp.have_ev)
		yaml_event_delete(&pp.ev);
	yaml_parser_delete(&pp.yp);
	free(pp.cpuid_marks);
	free(pp.msr_marks);
	if (rc) {
		if (rc == -ENOMEM)
			diag_error_at(pp.file, 0, 0, "out of memory while loading the profile");
		profile_free(pp.prof);
		return rc;
	}
	/* Sorted by index so that profile_find_msr can bisect: RDMSR and
	 * WRMSR look an MSR up every time a guest executes them. */
	if (pp.prof->nmsrs)
		qsort(pp.prof->msrs, pp.prof->nmsrs, sizeof(*pp.prof->msrs), msr_cmp);
	*out = pp.prof;
	return 0;
}

int profile_load(const char *path, struct cpu_profile **out)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	if (!out || !path)
		return -EINVAL;
	*out = NULL;
	f = fopen(path, "rb");
	if (!f) {
		rc = -errno;
		diag_error_at(path, 0, 0, "cannot open profile: %s", strerror(-rc));
		return rc;
	}
	errno = 0;
	for (;;) {
		size_t n;

		if (len == cap) {
			char *nb;

			if (cap >= PROFILE_MAX_FILE) {
				diag_error_at(path, 0, 0, "profile is larger than %u bytes", PROFILE_MAX_FILE);
				rc = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 16384;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		rc = errno ? -errno : -EIO;
		diag_error_at(path, 0, 0, "cannot read profile: %s", strerror(-rc));
		goto out;
	}
	rc = profile_load_string(buf, len, path, out);
out:
	free(buf);
	fclose(f);
	return rc;
}

void profile_free(struct cpu_profile *p)
{
	if (!p)
		return;
	free(p->cpuid);
	free(p->msrs);
	free(p);
}

const struct profile_msr *profile_find_msr(const struct cpu_profile *p, uint32_t index)
{
	size_t lo = 0, hi;

	if (!p)
		return NULL;
	hi = p->nmsrs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t at = p->msrs[mid].index;

		if (at == index)
			return &p->msrs[mid];
		if (at < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* SDM Vol. 2A, CPUID: a leaf beyond the basic and extended maxima returns
 * the data of the highest basic leaf (with the same ECX); a leaf within
 * range that the processor does not define returns zeros. */
void profile_cpuid(const struct cpu_profile *p, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	const struct profile_cpuid *e;

	out[0] = out[1] = out[2] = out[3] = 0;
	if (!p)
		return;
	if (!leaf_in_range(p, leaf))
		leaf = max_basic(p);
	e = cpuid_find(p, leaf, subleaf);
	if (!e)
		return;
	out[0] = e->eax;
	out[1] = e->ebx;
	out[2] = e->ecx;
	out[3] = e->edx;
}
