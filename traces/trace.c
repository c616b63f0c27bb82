/* The hvsim trace format: writer, reader and text dump.
 *
 * traces/FORMAT.md is the specification this file implements; section
 * names in the comments below refer to it.  Every multi-byte field is
 * serialised byte by byte (little-endian), so no struct layout, padding
 * or host byte order ever reaches a file. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "trace.h"

/* FORMAT.md "File header" */
static const uint8_t trace_magic[8] = { 0x89, 'H', 'V', 'T', '\r', '\n', 0x1a, '\n' };
#define TRACE_VERSION_MAJOR	1
#define TRACE_VERSION_MINOR	0
#define FILE_HEADER_LEN		16

/* FORMAT.md "Records" */
#define REC_PREFIX_LEN		12	/* tag, header length, payload length */
#define REC_HEADER_MIN		16	/* prefix + header CRC */
#define REC_HEADER_MAX		4096
#define META_HEADER_LEN		20
#define CHNK_HEADER_LEN		36
#define TEND_HEADER_LEN		32
#define PAYLOAD_MAX		(1u << 24)	/* any record payload, and a chunk's uncompressed length */
#define META_MAX		(1u << 20)

/* FORMAT.md "Writer rules" */
#define CHUNK_TARGET		65536	/* uncompressed payload bytes per chunk, at most */
#define DEFLATE_LEVEL		6
#define DEFLATE_WINDOW_BITS	15
#define DEFLATE_MEM_LEVEL	8

#define EVENT_MAX_LEN		128	/* longest v1 event encoding is 66 bytes */

/* ---- the kind table (FORMAT.md "Kinds") ---- */

enum arg_fmt { ARG_HEX, ARG_DEC };

struct arg_desc {
	const char *name;	/* NULL: unused */
	enum arg_fmt fmt;	/* how the dump prints it */
};

struct kind_desc {
	const char *name;
	struct arg_desc arg[4];
};

static const struct kind_desc kind_table[TRACE_KIND_MAX] = {
	[TRACE_VM_ENTRY] = { "vm_entry", {
		{ "launch", ARG_DEC }, { "rip", ARG_HEX }, { "intr_info", ARG_HEX }, { "cycles", ARG_DEC } } },
	[TRACE_VM_ENTRY_FAIL] = { "vm_entry_fail", {
		{ "error", ARG_HEX }, { "qual", ARG_HEX }, { "rip", ARG_HEX }, { NULL, ARG_HEX } } },
	[TRACE_VM_EXIT] = { "vm_exit", {
		{ "reason", ARG_HEX }, { "qual", ARG_HEX }, { "rip", ARG_HEX }, { "cycles", ARG_DEC } } },
	[TRACE_MARKER] = { "marker", {
		{ "id", ARG_DEC }, { "arg1", ARG_HEX }, { "arg2", ARG_HEX }, { "arg3", ARG_HEX } } },
	[TRACE_HYPERCALL] = { "hypercall", {
		{ "code", ARG_HEX }, { "status", ARG_HEX }, { "reps", ARG_DEC }, { "cycles", ARG_DEC } } },
	[TRACE_HYPERCALL_STAGES] = { "hypercall_stages", {
		{ "exit", ARG_DEC }, { "dispatch", ARG_DEC }, { "body", ARG_DEC }, { "entry", ARG_DEC } } },
	[TRACE_PARTITION] = { "partition", {
		{ "id", ARG_DEC }, { "event", ARG_DEC }, { NULL, ARG_HEX }, { NULL, ARG_HEX } } },
	[TRACE_INTERRUPT] = { "interrupt", {
		{ "source", ARG_HEX }, { "assert_ps", ARG_DEC }, { "ack_ps", ARG_DEC }, { "handler_ps", ARG_DEC } } },
	[TRACE_INTERRUPT_STAGES] = { "interrupt_stages", {
		{ "route_ps", ARG_DEC }, { "accept_ps", ARG_DEC }, { "exit_ps", ARG_DEC }, { "entry_ps", ARG_DEC } } },
};

static bool kind_known(unsigned kind)
{
	return kind > 0 && kind < TRACE_KIND_MAX && kind_table[kind].name;
}

const char *trace_kind_name(unsigned kind)
{
	return kind_known(kind) ? kind_table[kind].name : NULL;
}

const char *trace_arg_name(unsigned kind, unsigned i)
{
	if (!kind_known(kind) || i >= 4)
		return NULL;
	return kind_table[kind].arg[i].name;
}

/* ---- little-endian fields, varints (FORMAT.md "Conventions") ---- */

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Unsigned LEB128, shortest form. Returns the bytes written (1..10). */
static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* Reads one varint from p[*pos..end); false if it runs past `end` or
 * does not fit in 64 bits. */
static bool get_varint(const uint8_t *p, size_t end, size_t *pos, uint64_t *v)
{
	uint64_t r = 0;

	for (unsigned i = 0; i < 10; i++) {
		uint8_t b;

		if (*pos >= end)
			return false;
		b = p[(*pos)++];
		if (i == 9 && b > 1)
			return false;
		r |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = r;
			return true;
		}
	}
	return false;
}

static uint64_t zigzag(uint64_t d)
{
	return (d << 1) ^ (0 - (d >> 63));
}

static uint64_t unzigzag(uint64_t z)
{
	return (z >> 1) ^ (0 - (z & 1));
}

static uint32_t crc(uint32_t c, const void *p, size_t n)
{
	/* zlib's crc32() takes a uInt length; records never exceed it. */
	return (uint32_t)crc32(c, p, (uInt)n);
}

/* ---- meta (FORMAT.md "Meta") ---- */

static bool key_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

/* Checks meta text of length n: key=value lines, each ended by '\n'
 * (the last one may lack it when `allow_open_end`).  On failure writes
 * the reason to why[] and returns false. */
static bool meta_check(const char *m, size_t n, bool allow_open_end, char *why, size_t whylen)
{
	unsigned line = 1;
	size_t i = 0;

	while (i < n) {
		size_t k = i;

		while (k < n && key_char((unsigned char)m[k]))
			k++;
		if (k == i || k >= n || m[k] != '=') {
			snprintf(why, whylen, "bad meta line %u: expected key=value", line);
			return false;
		}
		for (k++; k < n && m[k] != '\n'; k++) {
			unsigned char c = (unsigned char)m[k];

			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				snprintf(why, whylen, "bad meta line %u: control character 0x%02x", line, c);
				return false;
			}
		}
		if (k >= n && !allow_open_end) {
			snprintf(why, whylen, "bad meta line %u: no newline at the end", line);
			return false;
		}
		i = k + 1;
		line++;
	}
	return true;
}

/* ================= writer ================= */

struct trace_writer {
	FILE *f;
	int err;			/* sticky: 0 or -errno */
	uint32_t file_crc;		/* CRC-32 of every byte written so far */
	uint64_t count;			/* events accepted */
	uint32_t chunks;		/* chunks written */
	uint8_t buf[CHUNK_TARGET];	/* the open chunk's uncompressed payload */
	size_t len;
	uint32_t chunk_events;
	uint64_t chunk_first;		/* cycle of the open chunk's first event */
	uint64_t prev_cycle;		/* delta base of the next event */
	z_stream zs;
	uint8_t *zbuf;			/* deflate output, deflateBound(CHUNK_TARGET) */
	size_t zcap;
};

static int write_bytes(struct trace_writer *w, const void *p, size_t n)
{
	if (w->err || !n)
		return w->err;
	if (fwrite(p, 1, n, w->f) != n) {
		w->err = errno ? -errno : -EIO;
		return w->err;
	}
	w->file_crc = crc(w->file_crc, p, n);
	return 0;
}

/* Writes a record header: the fixed prefix, `fields` (the type-specific
 * fields, hlen - 16 bytes) and the header CRC. */
static int write_record(struct trace_writer *w, const char tag[4], uint32_t hlen, uint32_t plen,
			const uint8_t *fields)
{
	uint8_t h[REC_HEADER_MAX];

	memcpy(h, tag, 4);
	put_le(h + 4, hlen, 4);
	put_le(h + 8, plen, 4);
	memcpy(h + REC_PREFIX_LEN, fields, hlen - REC_HEADER_MIN);
	put_le(h + hlen - 4, crc(0, h, hlen - 4), 4);
	return write_bytes(w, h, hlen);
}

/* FORMAT.md "Chunk record": compress the open chunk and write it. */
static int flush_chunk(struct trace_writer *w)
{
	uint8_t fields[CHNK_HEADER_LEN - REC_HEADER_MIN];
	size_t zlen;
	int r;

	if (w->err || !w->chunk_events)
		return w->err;
	if (w->chunks == UINT32_MAX)
		return w->err = -EFBIG;
	if (deflateReset(&w->zs) != Z_OK)
		return w->err = -EIO;
	w->zs.next_in = w->buf;
	w->zs.avail_in = (uInt)w->len;
	w->zs.next_out = w->zbuf;
	w->zs.avail_out = (uInt)w->zcap;
	if (deflate(&w->zs, Z_FINISH) != Z_STREAM_END)
		return w->err = -EIO;
	zlen = w->zcap - w->zs.avail_out;

	put_le(fields + 0, w->chunk_first, 8);
	put_le(fields + 8, w->len, 4);
	put_le(fields + 12, w->chunk_events, 4);
	put_le(fields + 16, crc(0, w->zbuf, zlen), 4);
	r = write_record(w, "CHNK", CHNK_HEADER_LEN, (uint32_t)zlen, fields);
	if (!r)
		r = write_bytes(w, w->zbuf, zlen);
	/* Complete chunks reach the file, so a run that dies leaves a
	 * trace readable up to its last chunk. */
	if (!r && fflush(w->f))
		r = w->err = errno ? -errno : -EIO;
	if (r)
		return r;
	w->chunks++;
	w->len = 0;
	w->chunk_events = 0;
	return 0;
}

/* FORMAT.md "Events": kind, body length, body. */
static size_t encode_event(uint8_t *out, const struct trace_event *ev, uint64_t prev_cycle)
{
	uint8_t body[EVENT_MAX_LEN];
	size_t n = 0, o = 0;
	unsigned nargs = 4;

	n += put_varint(body + n, zigzag(ev->cycle - prev_cycle));
	n += put_varint(body + n, ev->lp);
	n += put_varint(body + n, (uint32_t)(ev->partition + 1));
	n += put_varint(body + n, (uint32_t)(ev->vp + 1));
	while (nargs && !ev->arg[nargs - 1])
		nargs--;
	n += put_varint(body + n, nargs);
	for (unsigned i = 0; i < nargs; i++)
		n += put_varint(body + n, ev->arg[i]);

	o += put_varint(out + o, ev->kind);
	o += put_varint(out + o, n);
	memcpy(out + o, body, n);
	return o + n;
}

struct trace_writer *trace_writer_open(const char *path, const char *meta, char *err, size_t errlen)
{
	uint8_t hdr[FILE_HEADER_LEN], fields[META_HEADER_LEN - REC_HEADER_MIN];
	struct trace_writer *w;
	size_t mlen = meta ? strlen(meta) : 0;
	bool add_nl = mlen && meta[mlen - 1] != '\n';
	char why[96];
	uint32_t mcrc;

	if (!meta_check(meta, mlen, true, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", path, why);
		return NULL;
	}
	if (mlen + add_nl > META_MAX) {
		snprintf(err, errlen, "%s: meta longer than %u bytes", path, META_MAX);
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		return NULL;
	}
	/* Fixed deflate parameters: the same events give the same bytes. */
	if (deflateInit2(&w->zs, DEFLATE_LEVEL, Z_DEFLATED, DEFLATE_WINDOW_BITS, DEFLATE_MEM_LEVEL,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(w);
		snprintf(err, errlen, "%s: zlib deflateInit2 failed", path);
		return NULL;
	}
	w->zcap = deflateBound(&w->zs, CHUNK_TARGET);
	w->zbuf = malloc(w->zcap);
	if (!w->zbuf) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		goto fail;
	}
	w->f = fopen(path, "wb");
	if (!w->f) {
		snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
		goto fail;
	}

	memcpy(hdr, trace_magic, 8);
	put_le(hdr + 8, TRACE_VERSION_MAJOR, 2);
	put_le(hdr + 10, TRACE_VERSION_MINOR, 2);
	put_le(hdr + 12, crc(0, hdr, 12), 4);
	mcrc = crc(0, meta, mlen);
	if (add_nl)
		mcrc = crc(mcrc, "\n", 1);
	put_le(fields, mcrc, 4);
	write_bytes(w, hdr, sizeof(hdr));
	write_record(w, "META", META_HEADER_LEN, (uint32_t)(mlen + add_nl), fields);
	write_bytes(w, meta, mlen);
	if (add_nl)
		write_bytes(w, "\n", 1);
	if (w->err) {
		snprintf(err, errlen, "%s: write error: %s", path, strerror(-w->err));
		fclose(w->f);
		goto fail;
	}
	return w;

fail:
	deflateEnd(&w->zs);
	free(w->zbuf);
	free(w);
	return NULL;
}

int trace_emit(struct trace_writer *w, const struct trace_event *ev)
{
	uint8_t enc[EVENT_MAX_LEN];
	size_t n;
	int r;

	if (w->err)
		return w->err;
	if (ev->kind == 0 || ev->kind >= TRACE_KIND_MAX)
		return -EINVAL;
	n = encode_event(enc, ev, w->chunk_events ? w->prev_cycle : ev->cycle);
	if (w->len + n > CHUNK_TARGET) {
		r = flush_chunk(w);
		if (r)
			return r;
		n = encode_event(enc, ev, ev->cycle);
	}
	if (!w->chunk_events)
		w->chunk_first = ev->cycle;
	memcpy(w->buf + w->len, enc, n);
	w->len += n;
	w->chunk_events++;
	w->prev_cycle = ev->cycle;
	w->count++;
	return 0;
}

int trace_writer_close(struct trace_writer *w)
{
	uint8_t fields[TEND_HEADER_LEN - REC_HEADER_MIN];
	int r;

	if (!w)
		return 0;
	flush_chunk(w);
	put_le(fields + 0, w->count, 8);
	put_le(fields + 8, w->chunks, 4);
	put_le(fields + 12, w->file_crc, 4);
	write_record(w, "TEND", TEND_HEADER_LEN, 0, fields);
	r = w->err;
	if (fclose(w->f) && !r)
		r = errno ? -errno : -EIO;
	deflateEnd(&w->zs);
	free(w->zbuf);
	free(w);
	return r;
}

uint64_t trace_writer_count(const struct trace_writer *w)
{
	return w->count;
}

/* ================= reader ================= */

struct trace_reader {
	FILE *f;
	char *path;
	char *meta;
	bool failed;			/* error[] is set; every later call fails with it */
	char error[512];
	bool done;			/* end record read and checked */
	uint64_t off;			/* bytes consumed */
	uint32_t file_crc;		/* CRC-32 of those bytes */
	uint64_t delivered, skipped;
	uint64_t chunks;		/* chunks read (checked) so far */
	uint64_t chunk_off;		/* offset of the current chunk record */
	uint8_t *zbuf;			/* compressed payload */
	uint8_t *buf;			/* the current chunk, inflated */
	size_t cap_z, cap;
	size_t len, pos;		/* buf[pos..len) still to deliver */
	uint64_t prev_cycle;
	z_stream zs;
};

static int fail(struct trace_reader *r, uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records the first error as "path: offset N: reason". */
static int fail(struct trace_reader *r, uint64_t off, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	if (r->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(r->error, sizeof(r->error), "%s: offset %" PRIu64 ": %s", r->path, off, reason);
	r->failed = true;
	return -1;
}

/* Reads up to n bytes, adding them to the offset and file CRC; returns
 * how many were read (short only at end of file or on a read error). */
static size_t read_bytes(struct trace_reader *r, void *p, size_t n)
{
	size_t got = fread(p, 1, n, r->f);

	r->file_crc = crc(r->file_crc, p, got);
	r->off += got;
	return got;
}

static int read_error(struct trace_reader *r)
{
	return fail(r, r->off, "read error: %s", strerror(errno ? errno : EIO));
}

static bool grow(uint8_t **p, size_t *cap, size_t n)
{
	uint8_t *q;

	if (n <= *cap)
		return true;
	q = realloc(*p, n);
	if (!q)
		return false;
	*p = q;
	*cap = n;
	return true;
}

struct rec {
	uint64_t off;			/* where the record starts */
	char tag[5];
	uint32_t hlen, plen;
	uint8_t h[REC_HEADER_MAX];
};

/* Reads and checks a record header (FORMAT.md "Records").  Returns 1,
 * 0 at a clean end of file (no byte of a record), -1 on error. */
static int read_record_header(struct trace_reader *r, struct rec *rec)
{
	uint32_t stored, computed;
	size_t got;

	rec->off = r->off;
	got = read_bytes(r, rec->h, REC_PREFIX_LEN);
	if (got == 0 && !ferror(r->f))
		return 0;
	if (got < REC_PREFIX_LEN) {
		if (ferror(r->f))
			return read_error(r);
		return fail(r, rec->off, "truncated record header (%zu of %u bytes)", got, REC_PREFIX_LEN);
	}
	for (unsigned i = 0; i < 4; i++)
		rec->tag[i] = (rec->h[i] >= 0x20 && rec->h[i] < 0x7f) ? (char)rec->h[i] : '?';
	rec->tag[4] = '\0';
	rec->hlen = (uint32_t)get_le(rec->h + 4, 4);
	rec->plen = (uint32_t)get_le(rec->h + 8, 4);
	if (rec->hlen < REC_HEADER_MIN || rec->hlen > REC_HEADER_MAX)
		return fail(r, rec->off, "record '%s': bad header length %u", rec->tag, rec->hlen);
	got = read_bytes(r, rec->h + REC_PREFIX_LEN, rec->hlen - REC_PREFIX_LEN);
	if (got < rec->hlen - REC_PREFIX_LEN) {
		if (ferror(r->f))
			return read_error(r);
		return fail(r, rec->off, "truncated record header (%zu of %u bytes)",
			    got + REC_PREFIX_LEN, rec->hlen);
	}
	stored = (uint32_t)get_le(rec->h + rec->hlen - 4, 4);
	computed = crc(0, rec->h, rec->hlen - 4);
	if (stored != computed)
		return fail(r, rec->off, "record '%s': header CRC mismatch (stored 0x%08x, computed 0x%08x)",
			    rec->tag, stored, computed);
	if (rec->plen > PAYLOAD_MAX)
		return fail(r, rec->off, "record '%s': payload length %u over the limit of %u",
			    rec->tag, rec->plen, PAYLOAD_MAX);
	return 1;
}

static bool is_tag(const struct rec *rec, const char *tag)
{
	return !memcmp(rec->h, tag, 4);
}

/* Reads a record's payload into *buf; `what` names it in errors. */
static int read_payload(struct trace_reader *r, const struct rec *rec, uint8_t **buf, size_t *cap,
			const char *what)
{
	size_t got;

	if (!grow(buf, cap, rec->plen ? rec->plen : 1))
		return fail(r, rec->off, "%s: out of memory", what);
	got = read_bytes(r, *buf, rec->plen);
	if (got < rec->plen) {
		if (ferror(r->f))
			return read_error(r);
		return fail(r, rec->off, "%s: truncated payload (%zu of %u bytes)", what, got, rec->plen);
	}
	return 0;
}

/* Decodes one event at buf[*pos] (FORMAT.md "Events").  *known says
 * whether ev holds a deliverable event; unknown kinds only advance the
 * cycle chain.  Returns NULL or the reason it is malformed. */
static const char *decode_event(const uint8_t *buf, size_t len, size_t *pos, uint64_t *prev_cycle,
				struct trace_event *ev, bool *known)
{
	uint64_t kind, blen, d, lp, part, vp, nargs, a;
	size_t end;

	if (!get_varint(buf, len, pos, &kind) || !get_varint(buf, len, pos, &blen))
		return "bad varint in the event prefix";
	if (kind == 0 || kind > 0xffff)
		return "kind out of range";
	if (blen > len - *pos)
		return "event body runs past the chunk payload";
	end = *pos + blen;
	if (!get_varint(buf, end, pos, &d) || !get_varint(buf, end, pos, &lp) ||
	    !get_varint(buf, end, pos, &part) || !get_varint(buf, end, pos, &vp))
		return "event body too short for the common fields";
	if (lp > 0xffff || part > 0xffffffffu || vp > 0xffffffffu)
		return "lp, partition or vp out of range";
	*prev_cycle += unzigzag(d);
	*known = kind_known((unsigned)kind);
	if (*known) {
		memset(ev, 0, sizeof(*ev));
		ev->cycle = *prev_cycle;
		ev->kind = (uint16_t)kind;
		ev->lp = (uint16_t)lp;
		ev->partition = (uint32_t)(part - 1);
		ev->vp = (uint32_t)(vp - 1);
		if (!get_varint(buf, end, pos, &nargs))
			return "event body has no argument count";
		for (uint64_t i = 0; i < nargs; i++) {
			if (!get_varint(buf, end, pos, &a))
				return "event arguments run past the event body";
			if (i < 4)
				ev->arg[i] = a;
		}
	}
	/* Later minor versions may append fields: skip what is left. */
	*pos = end;
	return NULL;
}

/* FORMAT.md "Chunk record": read, check and inflate a chunk, then check
 * every event in it, so that its events are only delivered when all are
 * good. */
static int read_chunk(struct trace_reader *r, const struct rec *rec)
{
	uint64_t first = get_le(rec->h + 12, 8), prev;
	uint32_t ulen = (uint32_t)get_le(rec->h + 20, 4);
	uint32_t nev = (uint32_t)get_le(rec->h + 24, 4);
	uint32_t stored = (uint32_t)get_le(rec->h + 28, 4), computed;
	uint64_t idx = r->chunks;
	struct trace_event ev;
	uint32_t n = 0;
	char what[40];
	size_t pos;
	int zr;

	snprintf(what, sizeof(what), "chunk %" PRIu64, idx);
	if (rec->hlen < CHNK_HEADER_LEN)
		return fail(r, rec->off, "%s: header length %u, need %u", what, rec->hlen, CHNK_HEADER_LEN);
	if (ulen > PAYLOAD_MAX)
		return fail(r, rec->off, "%s: uncompressed length %u over the limit of %u",
			    what, ulen, PAYLOAD_MAX);
	if (read_payload(r, rec, &r->zbuf, &r->cap_z, what))
		return -1;
	computed = crc(0, r->zbuf, rec->plen);
	if (stored != computed)
		return fail(r, rec->off, "%s: payload CRC mismatch (stored 0x%08x, computed 0x%08x)",
			    what, stored, computed);

	/* One extra byte of room shows a stream that inflates to more
	 * than the header says. */
	if (!grow(&r->buf, &r->cap, (size_t)ulen + 1))
		return fail(r, rec->off, "%s: out of memory", what);
	if (inflateReset(&r->zs) != Z_OK)
		return fail(r, rec->off, "%s: zlib error: inflateReset failed", what);
	r->zs.next_in = r->zbuf;
	r->zs.avail_in = rec->plen;
	r->zs.next_out = r->buf;
	r->zs.avail_out = ulen + 1;
	zr = inflate(&r->zs, Z_FINISH);
	if (zr == Z_DATA_ERROR || zr == Z_STREAM_ERROR || zr == Z_MEM_ERROR || zr == Z_NEED_DICT)
		return fail(r, rec->off, "%s: zlib error: %s", what,
			    r->zs.msg ? r->zs.msg : zError(zr));
	if (zr != Z_STREAM_END) {
		if (r->zs.avail_out == 0)
			return fail(r, rec->off, "%s: payload inflates to more than %u bytes", what, ulen);
		return fail(r, rec->off, "%s: zlib error: stream ends early", what);
	}
	if (r->zs.avail_in)
		return fail(r, rec->off, "%s: %u bytes after the end of the zlib stream", what,
			    r->zs.avail_in);
	if (r->zs.total_out != ulen)
		return fail(r, rec->off, "%s: payload inflates to %lu bytes, header says %u",
			    what, (unsigned long)r->zs.total_out, ulen);

	prev = first;
	for (pos = 0; pos < ulen; n++) {
		bool known;
		const char *why = decode_event(r->buf, ulen, &pos, &prev, &ev, &known);

		if (why)
			return fail(r, rec->off, "%s: event %u: %s", what, n, why);
	}
	if (n != nev)
		return fail(r, rec->off, "%s: event count mismatch (header says %u, payload holds %u)",
			    what, nev, n);
	r->chunks++;
	r->chunk_off = rec->off;
	r->len = ulen;
	r->pos = 0;
	r->prev_cycle = first;
	return 0;
}

/* FORMAT.md "End record" */
static int read_end(struct trace_reader *r, const struct rec *rec, uint32_t crc_before)
{
	uint64_t total = get_le(rec->h + 12, 8);
	uint32_t nchunks = (uint32_t)get_le(rec->h + 20, 4);
	uint32_t fcrc = (uint32_t)get_le(rec->h + 24, 4);
	uint8_t extra;

	if (rec->hlen < TEND_HEADER_LEN)
		return fail(r, rec->off, "end record: header length %u, need %u", rec->hlen, TEND_HEADER_LEN);
	if (rec->plen)
		return fail(r, rec->off, "end record: payload length %u, must be 0", rec->plen);
	if (total != r->delivered + r->skipped)
		return fail(r, rec->off, "end record: event count mismatch (end record says %" PRIu64
			    ", chunks hold %" PRIu64 ")", total, r->delivered + r->skipped);
	if (nchunks != r->chunks)
		return fail(r, rec->off, "end record: chunk count mismatch (end record says %u, file holds %"
			    PRIu64 ")", nchunks, r->chunks);
	if (fcrc != crc_before)
		return fail(r, rec->off, "end record: file CRC mismatch (stored 0x%08x, computed 0x%08x)",
			    fcrc, crc_before);
	if (fread(&extra, 1, 1, r->f) == 1)
		return fail(r, r->off, "trailing data after the end record");
	if (ferror(r->f))
		return read_error(r);
	r->done = true;
	return 0;
}

/* Skips the payload of a record this reader does not know, keeping the
 * file CRC (FORMAT.md "Versioning"). */
static int skip_payload(struct trace_reader *r, const struct rec *rec)
{
	uint8_t tmp[4096];
	uint32_t left = rec->plen;

	while (left) {
		size_t n = left < sizeof(tmp) ? left : sizeof(tmp);
		size_t got = read_bytes(r, tmp, n);

		if (got < n) {
			if (ferror(r->f))
				return read_error(r);
			return fail(r, rec->off, "record '%s': truncated payload (%u of %u bytes)",
				    rec->tag, rec->plen - left + (uint32_t)got, rec->plen);
		}
		left -= (uint32_t)n;
	}
	return 0;
}

/* Reads records up to the next chunk with events, or the end record.
 * Returns 1 with a chunk ready, 0 at the checked end, -1 on error. */
static int next_chunk(struct trace_reader *r)
{
	struct rec rec;

	for (;;) {
		uint32_t crc_before = r->file_crc;
		int k = read_record_header(r, &rec);

		if (k < 0)
			return -1;
		if (k == 0)
			return fail(r, r->off, "missing end record (file ends after %" PRIu64
				    " events in %" PRIu64 " chunks)", r->delivered + r->skipped, r->chunks);
		if (is_tag(&rec, "CHNK")) {
			if (read_chunk(r, &rec))
				return -1;
			return 1;
		}
		if (is_tag(&rec, "TEND"))
			return read_end(r, &rec, crc_before);
		if (is_tag(&rec, "META"))
			return fail(r, rec.off, "a second META record");
		if (skip_payload(r, &rec))
			return -1;
	}
}

struct trace_reader *trace_reader_open(const char *path, char *err, size_t errlen)
{
	uint8_t hdr[FILE_HEADER_LEN], *mbuf = NULL;
	struct trace_reader *r;
	struct rec rec;
	size_t got, mcap = 0;
	uint32_t stored, computed;
	unsigned major, minor;
	char why[96];
	int k;

	r = calloc(1, sizeof(*r));
	if (!r || !(r->path = strdup(path))) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		free(r);
		return NULL;
	}
	if (inflateInit(&r->zs) != Z_OK) {
		snprintf(err, errlen, "%s: zlib inflateInit failed", path);
		free(r->path);
		free(r);
		return NULL;
	}
	r->f = fopen(path, "rb");
	if (!r->f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}

	/* FORMAT.md "File header": magic, then version, then the CRC, so
	 * that a later major version is named as such. */
	got = read_bytes(r, hdr, sizeof(hdr));
	if (ferror(r->f)) {
		read_error(r);
		goto out;
	}
	if (got == 0) {
		fail(r, 0, "empty file (not an hvsim trace)");
		goto out;
	}
	if (memcmp(hdr, trace_magic, got < 8 ? got : 8)) {
		fail(r, 0, "bad magic (not an hvsim trace)");
		goto out;
	}
	if (got < sizeof(hdr)) {
		fail(r, 0, "truncated file header (%zu of %u bytes)", got, FILE_HEADER_LEN);
		goto out;
	}
	major = (unsigned)get_le(hdr + 8, 2);
	minor = (unsigned)get_le(hdr + 10, 2);
	if (major != TRACE_VERSION_MAJOR) {
		fail(r, 8, "unsupported version %u.%u (this reader reads %u.x)", major, minor,
		     TRACE_VERSION_MAJOR);
		goto out;
	}
	stored = (uint32_t)get_le(hdr + 12, 4);
	computed = crc(0, hdr, 12);
	if (stored != computed) {
		fail(r, 12, "file header CRC mismatch (stored 0x%08x, computed 0x%08x)", stored, computed);
		goto out;
	}

	/* FORMAT.md "Meta record": always the first record. */
	k = read_record_header(r, &rec);
	if (k == 0)
		fail(r, r->off, "missing META record");
	if (k <= 0)
		goto out;
	if (!is_tag(&rec, "META")) {
		fail(r, rec.off, "expected the META record, found '%s'", rec.tag);
		goto out;
	}
	if (rec.hlen < META_HEADER_LEN) {
		fail(r, rec.off, "META: header length %u, need %u", rec.hlen, META_HEADER_LEN);
		goto out;
	}
	if (rec.plen > META_MAX) {
		fail(r, rec.off, "META: %u bytes, over the limit of %u", rec.plen, META_MAX);
		goto out;
	}
	if (read_payload(r, &rec, &mbuf, &mcap, "META"))
		goto out;
	stored = (uint32_t)get_le(rec.h + 12, 4);
	computed = crc(0, mbuf, rec.plen);
	if (stored != computed) {
		fail(r, rec.off, "META: payload CRC mismatch (stored 0x%08x, computed 0x%08x)",
		     stored, computed);
		goto out;
	}
	if (memchr(mbuf, 0, rec.plen)) {
		fail(r, rec.off, "META: NUL byte in the meta text");
		goto out;
	}
	if (!meta_check((const char *)mbuf, rec.plen, false, why, sizeof(why))) {
		fail(r, rec.off, "META: %s", why);
		goto out;
	}
	r->meta = malloc(rec.plen + 1);
	if (!r->meta) {
		fail(r, rec.off, "META: out of memory");
		goto out;
	}
	memcpy(r->meta, mbuf, rec.plen);
	r->meta[rec.plen] = '\0';
	free(mbuf);
	return r;

out:
	if (r->failed)
		snprintf(err, errlen, "%s", r->error);
	free(mbuf);
	trace_reader_close(r);
	return NULL;
}

const char *trace_reader_meta(const struct trace_reader *r)
{
	return r->meta ? r->meta : "";
}

int trace_next(struct trace_reader *r, struct trace_event *ev)
{
	for (;;) {
		bool known;
		int k;

		if (r->failed)
			return -1;
		if (r->done)
			return 0;
		while (r->pos < r->len) {
			/* Checked by read_chunk(): cannot fail here. */
			if (decode_event(r->buf, r->len, &r->pos, &r->prev_cycle, ev, &known))
				return fail(r, r->chunk_off, "chunk %" PRIu64 ": decoding changed", r->chunks - 1);
			if (known) {
				r->delivered++;
				return 1;
			}
			r->skipped++;
		}
		k = next_chunk(r);
		if (k < 0)
			return -1;
	}
}

const char *trace_reader_error(const struct trace_reader *r)
{
	return r->failed ? r->error : NULL;
}

uint64_t trace_reader_count(const struct trace_reader *r)
{
	return r->delivered;
}

uint64_t trace_reader_skipped(const struct trace_reader *r)
{
	return r->skipped;
}

void trace_reader_close(struct trace_reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	inflateEnd(&r->zs);
	free(r->path);
	free(r->meta);
	free(r->zbuf);
	free(r->buf);
	free(r);
}

/* ================= text dump (FORMAT.md "Text dump") ================= */

static const char *(*trace_namer)(unsigned kind, unsigned arg, uint64_t value);

void trace_set_namer(const char *(*namer)(unsigned kind, unsigned arg, uint64_t value))
{
	trace_namer = namer;
}

static bool name_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!key_char((unsigned char)*s))
			return false;
	return true;
}

struct sbuf {
	char *p;
	size_t len, used;	/* used may exceed len: snprintf semantics */
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	size_t room = b->used < b->len ? b->len - b->used : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? b->p + b->used : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->used += (size_t)n;
}

int trace_format_event(char *buf, size_t len, const struct trace_event *ev)
{
	struct sbuf b = { buf, len, 0 };
	const char *kname = trace_kind_name(ev->kind);

	if (len)
		buf[0] = '\0';
	sb_printf(&b, "%" PRIu64 " lp%u", ev->cycle, ev->lp);
	if (ev->partition != TRACE_NONE)
		sb_printf(&b, " p%u", ev->partition);
	if (ev->vp != TRACE_NONE)
		sb_printf(&b, " vp%u", ev->vp);
	if (kname)
		sb_printf(&b, " %s", kname);
	else
		sb_printf(&b, " kind%u", ev->kind);
	for (unsigned i = 0; i < 4; i++) {
		const char *aname = trace_arg_name(ev->kind, i);
		const char *vname;

		if (!aname) {
			/* Unused arguments only show when something put a value there. */
			if (ev->arg[i])
				sb_printf(&b, " arg%u=0x%" PRIx64, i, ev->arg[i]);
			continue;
		}
		if (kind_table[ev->kind].arg[i].fmt == ARG_DEC)
			sb_printf(&b, " %s=%" PRIu64, aname, ev->arg[i]);
		else
			sb_printf(&b, " %s=0x%" PRIx64, aname, ev->arg[i]);
		vname = trace_namer ? trace_namer(ev->kind, i, ev->arg[i]) : NULL;
		if (name_ok(vname))
			sb_printf(&b, "(%s)", vname);
	}
	return (int)b.used;
}

int trace_dump(const char *path, FILE *out)
{
	char err[512], line[512];
	struct trace_reader *r;
	struct trace_event ev;
	const char *m;
	int k;

	r = trace_reader_open(path, err, sizeof(err));
	if (!r) {
		fprintf(stderr, "hvsim: %s\n", err);
		return 2;
	}
	for (m = trace_reader_meta(r); *m; ) {
		const char *nl = strchr(m, '\n');
		size_t n = nl ? (size_t)(nl - m) : strlen(m);

		fprintf(out, "# %.*s\n", (int)n, m);
		m += n + (nl != NULL);
	}
	while ((k = trace_next(r, &ev)) == 1) {
		trace_format_event(line, sizeof(line), &ev);
		fprintf(out, "%s\n", line);
	}
	if (k < 0) {
		fflush(out);
		fprintf(stderr, "hvsim: %s\n", trace_reader_error(r));
		trace_reader_close(r);
		return 2;
	}
	trace_reader_close(r);
	return 0;
}
