/* The hvsim event trace: writer, reader and text dump.
 *
 * A trace is a stream of fixed-size events (cycle stamp, LP, partition,
 * VP, kind, four kind-specific arguments) stored in zlib-compressed
 * chunks with CRC-32s; traces/FORMAT.md is the byte-level specification.
 * The same events in always give a byte-identical file: nothing host-
 * dependent is ever written (DESIGN.md "Time and determinism").
 *
 * This library knows nothing of the simulator: sim/cpu emits events
 * through trace_emit(), `hvsim trace dump` prints them with trace_dump(). */
#ifndef TRACES_TRACE_H
#define TRACES_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One event.  Fixed-size in memory; FORMAT.md gives the file encoding. */
struct trace_event {
	uint64_t cycle;		/* LP clock cycle of the event */
	uint16_t kind;		/* enum trace_kind */
	uint16_t lp;		/* logical processor index */
	uint32_t partition;	/* TRACE_NONE if not attributable */
	uint32_t vp;		/* TRACE_NONE if not attributable */
	uint64_t arg[4];	/* kind-specific, see the kind table */
};

#define TRACE_NONE 0xffffffffu

/* The kind table; FORMAT.md "Kinds" gives each argument's name and how
 * `hvsim trace dump` prints it.  Kinds are never renumbered: new kinds
 * go before TRACE_KIND_MAX. */
enum trace_kind {
	TRACE_VM_ENTRY = 1,	/* arg0 1=VMLAUNCH 0=VMRESUME, arg1 guest RIP, arg2 injected event info (VM-entry
				   interruption-information field, 0 if none), arg3 transition cycles charged */
	TRACE_VM_ENTRY_FAIL,	/* arg0 VM-instruction error (or 0x80000000|basic exit reason for an entry-failure
				   exit), arg1 exit qualification, arg2 RIP of the VMLAUNCH/VMRESUME */
	TRACE_VM_EXIT,		/* arg0 basic exit reason (bit 31 set for entry failures as in the VMCS field),
				   arg1 exit qualification, arg2 guest RIP, arg3 transition cycles charged */
	TRACE_MARKER,		/* arg0 marker id, arg1..3 free: guest/firmware markers */
	TRACE_HYPERCALL,	/* arg0 call code, arg1 HV_STATUS, arg2 reps completed, arg3 total cycles from
				   the VMCALL to the next VM entry; partition/vp: the caller */
	TRACE_HYPERCALL_STAGES,	/* the same call's stages: arg0 exit transition, arg1 dispatch, arg2 handler
				   body, arg3 return through the VM entry (cycles, summing to the total) */
	TRACE_PARTITION,	/* arg0 partition id, arg1 event (0 created, 1 initialized, 2 finalized,
				   3 deleted) */
	TRACE_INTERRUPT,	/* an interrupt reached its handler: arg0 vector | source kind << 8 | pin << 16,
				   arg1 when its source asserted it, arg2 when the LP acknowledged it, arg3 when
				   its handler's first instruction ran (simulated time, ps) */
	TRACE_INTERRUPT_STAGES,	/* right after its `interrupt` event, the times in between (ps): arg0 routed,
				   arg1 accepted by the LAPIC, arg2 the acknowledging VM exit completed and arg3
				   the VM entry that injected it began (both 0 without a VM exit); a synthetic
				   source (kinds 6-8): arg0 when the vector became pending, arg1 and arg2 0 */
	TRACE_KIND_MAX
};

/* Name of a kind ("vm_entry", "vm_entry_fail", "vm_exit", "marker") and
 * of each of its args (NULL = unused argument, or a kind this library
 * does not know). */
const char *trace_kind_name(unsigned kind);
const char *trace_arg_name(unsigned kind, unsigned i);

/* ---- writing ---- */

struct trace_writer;

/* Creates (truncates) `path` and writes the file header and `meta`.
 * `meta` is a NUL-terminated UTF-8 string of key=value lines (e.g.
 * "simulator=hvsim 0.1.0\nprofile=sandybridge\nfrequency_khz=3400000\nlps=1\n";
 * NULL = none), stored verbatim except that a missing final newline is
 * added; FORMAT.md "Meta" gives the accepted syntax.  It must not hold
 * anything host-dependent: the library adds nothing of its own.
 * Returns NULL with "path: reason" in err on failure. */
struct trace_writer *trace_writer_open(const char *path, const char *meta, char *err, size_t errlen);
/* Buffers one event; a full chunk (about 64 KiB encoded) is compressed
 * and written.  0, -EINVAL for kind 0 or >= TRACE_KIND_MAX, or the
 * -errno of an earlier failed write (the writer then refuses everything). */
int trace_emit(struct trace_writer *w, const struct trace_event *ev);
/* Flushes the last chunk, writes the end record, closes and frees the
 * writer (always, even on error); 0 or -errno. */
int trace_writer_close(struct trace_writer *w);
/* Events accepted by trace_emit() so far. */
uint64_t trace_writer_count(const struct trace_writer *w);

/* ---- reading ---- */

struct trace_reader;

/* Opens a trace and reads its header and meta.  Returns NULL with
 * "path: offset N: reason" (or "path: cannot open: strerror") in err. */
struct trace_reader *trace_reader_open(const char *path, char *err, size_t errlen);
/* The meta text exactly as stored (NUL-terminated, "" if none). */
const char *trace_reader_meta(const struct trace_reader *r);
/* 1 = an event in *ev, 0 = clean end (end record read and checked),
 * -1 = error (message through trace_reader_error).  A chunk's events are
 * delivered only once the whole chunk has been checked, so after an
 * error every event of every good chunk before it has been delivered.
 * Events of kinds this library does not know are skipped (counted by
 * trace_reader_skipped). */
int trace_next(struct trace_reader *r, struct trace_event *ev);
/* "path: offset N: reason", or NULL while there was no error. */
const char *trace_reader_error(const struct trace_reader *r);
/* Events delivered so far, and events of unknown kinds skipped so far. */
uint64_t trace_reader_count(const struct trace_reader *r);
uint64_t trace_reader_skipped(const struct trace_reader *r);
void trace_reader_close(struct trace_reader *r);

/* ---- text ---- */

/* `hvsim trace dump FILE`: the meta first as "# key=value" lines, then
 * one line per event, deterministic text:
 *   "<cycle> lp<lp> [p<partition>] [vp<vp>] <kind-name> <argname>=<value> ..."
 * (FORMAT.md "Text dump").  Returns 0, or 2 after printing
 * "hvsim: FILE: offset N: reason" to stderr (events read before the
 * error have been printed). */
int trace_dump(const char *path, FILE *out);
/* One event as a dump line without the newline, snprintf-style: returns
 * the length the full line needs. */
int trace_format_event(char *buf, size_t len, const struct trace_event *ev);
/* Optional formatter hook so that the dump prints names (e.g. exit
 * reasons): called for (kind, arg index, value) of each printed
 * argument; returns a static name or NULL.  The name is printed in
 * parentheses after the number; only [A-Za-z0-9_.-] names are used.
 * NULL removes the hook. */
void trace_set_namer(const char *(*namer)(unsigned kind, unsigned arg, uint64_t value));

#endif
