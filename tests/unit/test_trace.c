/* The trace format library: round trips across chunks, determinism,
 * the exact bytes FORMAT.md specifies, forward compatibility (unknown
 * kinds, fields and records), and the exact "path: offset N: reason" of
 * each error.  Files go to a per-test temporary directory; files the
 * writer cannot produce (future versions, corruptions) are built here
 * byte by byte from FORMAT.md. */
#include <criterion/criterion.h>

#include "capture.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "trace.h"

/* ---- files ---- */

static char tmpdir[64];

static void tmpdir_init(void)
{
	strcpy(tmpdir, "/tmp/hvsim-trace-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void tmpdir_fini(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(trace, .init = tmpdir_init, .fini = tmpdir_fini);

/* Returns a path in the test's directory (malloc'd). */
static char *tpath(const char *name)
{
	char *p;

	cr_assert_geq(asprintf(&p, "%s/%s", tmpdir, name), 0);
	return p;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	p = malloc(n ? (size_t)n : 1);
	cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void spill(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(p, 1, len, f), len);
	fclose(f);
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* ---- records, walked as FORMAT.md "Records" describes ---- */

struct wrec {
	size_t off;
	char tag[5];
	uint32_t hlen, plen;
};

static size_t walk(const uint8_t *f, size_t len, struct wrec *out, size_t max)
{
	size_t off = 16, n = 0;

	while (off + 12 <= len && n < max) {
		struct wrec *w = &out[n++];

		w->off = off;
		memcpy(w->tag, f + off, 4);
		w->tag[4] = '\0';
		w->hlen = le32(f + off + 4);
		w->plen = le32(f + off + 8);
		off += w->hlen + w->plen;
	}
	cr_assert_eq(off, len, "records do not tile the file");
	return n;
}

/* ---- events ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Pick from the 64-bit extremes and a few random magnitudes. */
static uint64_t rnd_u64(void)
{
	static const uint64_t edge[] = { 0, 1, 0x7f, 0x80, 0xffffffffull, 0x100000000ull,
					 0x7fffffffffffffffull, 0x8000000000000000ull, UINT64_MAX };

	switch (rnd() % 4) {
	case 0:
		return edge[rnd() % (sizeof(edge) / sizeof(edge[0]))];
	case 1:
		return rnd() & 0xffff;
	default:
		return rnd() >> (rnd() % 64);
	}
}

static uint32_t rnd_u32_or_none(void)
{
	switch (rnd() % 4) {
	case 0:
		return TRACE_NONE;
	case 1:
		return (uint32_t)(rnd() % 3) + 0xfffffffdu;	/* up to TRACE_NONE */
	default:
		return (uint32_t)(rnd() % 8);
	}
}

static void gen_events(struct trace_event *ev, size_t n, uint64_t seed)
{
	uint64_t cycle = 1000;

	rng_state = seed;
	for (size_t i = 0; i < n; i++) {
		memset(&ev[i], 0, sizeof(ev[i]));
		/* Mostly increasing, sometimes backwards (another LP's
		 * clock) or at the 64-bit extremes. */
		switch (rnd() % 16) {
		case 0:
			cycle = UINT64_MAX;
			break;
		case 1:
			cycle = 0;
			break;
		case 2:
			cycle -= rnd() % 5000;
			break;
		default:
			cycle += rnd() % 3000;
		}
		ev[i].cycle = cycle;
		ev[i].kind = (uint16_t)(1 + rnd() % (TRACE_KIND_MAX - 1));
		ev[i].lp = (rnd() % 8 == 0) ? 0xffff : (uint16_t)(rnd() % 4);
		ev[i].partition = rnd_u32_or_none();
		ev[i].vp = rnd_u32_or_none();
		for (unsigned a = 0; a < 4; a++)
			ev[i].arg[a] = rnd() % 3 ? rnd_u64() : 0;
	}
}

static void write_trace(const char *path, const char *meta, const struct trace_event *ev, size_t n)
{
	char err[256] = "";
	struct trace_writer *w = trace_writer_open(path, meta, err, sizeof(err));

	cr_assert_not_null(w, "open: %s", err);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(trace_emit(w, &ev[i]), 0, "emit %zu", i);
	cr_assert_eq(trace_writer_count(w), n);
	cr_assert_eq(trace_writer_close(w), 0);
}

static void assert_event_eq(const struct trace_event *got, const struct trace_event *want, size_t i)
{
	cr_assert_eq(got->cycle, want->cycle, "event %zu: cycle %#lx, want %#lx", i,
		     (unsigned long)got->cycle, (unsigned long)want->cycle);
	cr_assert_eq(got->kind, want->kind, "event %zu: kind", i);
	cr_assert_eq(got->lp, want->lp, "event %zu: lp", i);
	cr_assert_eq(got->partition, want->partition, "event %zu: partition", i);
	cr_assert_eq(got->vp, want->vp, "event %zu: vp", i);
	for (unsigned a = 0; a < 4; a++)
		cr_assert_eq(got->arg[a], want->arg[a], "event %zu: arg%u %#lx, want %#lx", i, a,
			     (unsigned long)got->arg[a], (unsigned long)want->arg[a]);
}

#define NBIG 40000
static const char meta_std[] = "simulator=hvsim 0.1.0\nprofile=sandybridge\nfrequency_khz=3400000\nlps=1\n";

/* Reads `path` expecting the events want[0..nwant) and then `result`;
 * returns the reader (closed by the caller) for further checks. */
static struct trace_reader *read_expect(const char *path, const struct trace_event *want, size_t nwant,
					int result)
{
	char err[256] = "";
	struct trace_reader *r = trace_reader_open(path, err, sizeof(err));
	struct trace_event ev;
	size_t i;

	cr_assert_not_null(r, "open: %s", err);
	for (i = 0; i < nwant; i++) {
		int k = trace_next(r, &ev);

		cr_assert_eq(k, 1, "event %zu: trace_next %d (%s)", i, k,
			     trace_reader_error(r) ? trace_reader_error(r) : "no error");
		assert_event_eq(&ev, &want[i], i);
	}
	cr_assert_eq(trace_next(r, &ev), result, "after %zu events: %s", nwant,
		     trace_reader_error(r) ? trace_reader_error(r) : "no error");
	/* The outcome is sticky. */
	cr_assert_eq(trace_next(r, &ev), result);
	cr_assert_eq(trace_reader_count(r), nwant);
	return r;
}

/* ================= round trips ================= */

Test(trace, round_trip_of_many_events_across_chunks_keeps_every_field)
{
	struct trace_event *ev = calloc(NBIG, sizeof(*ev));
	char *path = tpath("big.hvt");
	struct trace_reader *r;
	struct wrec rec[64];
	uint64_t total = 0;
	size_t len, n, chunks = 0;
	uint8_t *f;

	gen_events(ev, NBIG, 0x1234567887654321ull);
	write_trace(path, meta_std, ev, NBIG);
	r = read_expect(path, ev, NBIG, 0);
	cr_assert_str_eq(trace_reader_meta(r), meta_std);
	cr_assert_null(trace_reader_error(r));
	cr_assert_eq(trace_reader_skipped(r), 0);
	trace_reader_close(r);

	/* Several chunks of at most 64 KiB uncompressed, their counts
	 * adding up to the end record's. */
	f = slurp(path, &len);
	n = walk(f, len, rec, 64);
	cr_assert_str_eq(rec[0].tag, "META");
	cr_assert_str_eq(rec[n - 1].tag, "TEND");
	for (size_t i = 1; i < n - 1; i++) {
		cr_assert_str_eq(rec[i].tag, "CHNK");
		cr_assert_leq(le32(f + rec[i].off + 20), 65536, "chunk %zu uncompressed %u", i - 1,
			      le32(f + rec[i].off + 20));
		if (i < n - 2)
			cr_assert_geq(le32(f + rec[i].off + 20), 65536 - 128, "chunk %zu is not full", i - 1);
		total += le32(f + rec[i].off + 24);
		chunks++;
	}
	cr_assert_geq(chunks, 3, "only %zu chunks", chunks);
	cr_assert_eq(le64(f + rec[n - 1].off + 12), NBIG);
	cr_assert_eq(le32(f + rec[n - 1].off + 20), chunks);
	cr_assert_eq(total, NBIG);
	free(f);
	free(ev);
	free(path);
}

Test(trace, identical_events_give_byte_identical_files)
{
	struct trace_event *ev = calloc(NBIG, sizeof(*ev));
	char *a = tpath("a.hvt"), *b = tpath("b.hvt");
	uint8_t *fa, *fb;
	size_t la, lb;

	gen_events(ev, NBIG, 42);
	write_trace(a, meta_std, ev, NBIG);
	write_trace(b, meta_std, ev, NBIG);
	fa = slurp(a, &la);
	fb = slurp(b, &lb);
	cr_assert_eq(la, lb);
	cr_assert_eq(memcmp(fa, fb, la), 0);
	/* ... and a different event gives a different file. */
	ev[NBIG / 2].arg[1] ^= 1;
	write_trace(b, meta_std, ev, NBIG);
	free(fb);
	fb = slurp(b, &lb);
	cr_assert(la != lb || memcmp(fa, fb, la) != 0);
	free(fa);
	free(fb);
	free(a);
	free(b);
	free(ev);
}

Test(trace, empty_trace_has_header_meta_and_end_record_only)
{
	char *path = tpath("empty.hvt");
	struct trace_reader *r;
	struct wrec rec[4];
	uint8_t *f;
	size_t len;

	write_trace(path, NULL, NULL, 0);
	r = read_expect(path, NULL, 0, 0);
	cr_assert_str_eq(trace_reader_meta(r), "");
	cr_assert_null(trace_reader_error(r));
	trace_reader_close(r);

	f = slurp(path, &len);
	cr_assert_eq(len, 16 + 20 + 32);
	cr_assert_eq(walk(f, len, rec, 4), 2);
	cr_assert_str_eq(rec[1].tag, "TEND");
	cr_assert_eq(le64(f + rec[1].off + 12), 0);
	cr_assert_eq(le32(f + rec[1].off + 20), 0);
	cr_assert_eq(le32(f + rec[1].off + 24), crc32(0, f, (uInt)rec[1].off));
	free(f);
	free(path);
}

Test(trace, meta_without_final_newline_gets_one)
{
	char *path = tpath("m.hvt");
	struct trace_reader *r;

	write_trace(path, "a=1\nb.c-d_e=x y\tz", NULL, 0);
	r = read_expect(path, NULL, 0, 0);
	cr_assert_str_eq(trace_reader_meta(r), "a=1\nb.c-d_e=x y\tz\n");
	trace_reader_close(r);
	free(path);
}

/* ================= the bytes of FORMAT.md ================= */

/* Inflates a chunk's payload; returns its length in out[]. */
static size_t inflate_chunk(const uint8_t *f, const struct wrec *c, uint8_t *out, size_t cap)
{
	uLongf n = cap;

	cr_assert_eq(uncompress(out, &n, f + c->off + c->hlen, c->plen), Z_OK);
	return n;
}

Test(trace, file_bytes_follow_format_md)
{
	static const char meta[] = "lps=2\n";
	static const struct trace_event ev[] = {
		{ .cycle = 1000, .kind = TRACE_VM_ENTRY, .lp = 1, .partition = 0, .vp = 2,
		  .arg = { 1, 0xfff0, 0, 300 } },
		{ .cycle = 990, .kind = TRACE_VM_EXIT, .lp = 0, .partition = TRACE_NONE, .vp = TRACE_NONE,
		  .arg = { 0, 0, 0, 0 } },
		{ .cycle = UINT64_MAX, .kind = TRACE_MARKER, .lp = 0x123, .partition = 5, .vp = TRACE_NONE,
		  .arg = { 0, 0, 0, UINT64_MAX } },
	};
	static const uint8_t header[16] = { 0x89, 'H', 'V', 'T', '\r', '\n', 0x1a, '\n', 1, 0, 0, 0 };
	static const uint8_t payload[] = {
		/* kind 1, 12 body bytes: delta 0, lp 1, partition 0+1, vp 2+1, 4 args */
		0x01, 0x0c, 0x00, 0x01, 0x01, 0x03, 0x04, 0x01, 0xf0, 0xff, 0x03, 0x00, 0xac, 0x02,
		/* kind 3, 5 body bytes: delta -10 = zigzag 19, lp 0, none, none, 0 args */
		0x03, 0x05, 0x13, 0x00, 0x00, 0x00, 0x00,
		/* kind 4: delta UINT64_MAX - 990 = zigzag(-991) 1981, lp 0x123, p5+1, none,
		   4 args, 0 0 0 UINT64_MAX */
		0x04, 0x14, 0xbd, 0x0f, 0xa3, 0x02, 0x06, 0x00, 0x04, 0x00, 0x00, 0x00,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
	};
	char *path = tpath("fmt.hvt");
	uint8_t *f, out[256];
	struct wrec rec[4];
	size_t len;

	write_trace(path, meta, ev, 3);
	f = slurp(path, &len);
	cr_assert_eq(memcmp(f, header, 12), 0, "magic or version");
	cr_assert_eq(le32(f + 12), crc32(0, f, 12), "file header CRC");
	cr_assert_eq(walk(f, len, rec, 4), 3);

	/* META: tag, H=20, P, payload CRC, header CRC, then the text. */
	cr_assert_eq(rec[0].off, 16);
	cr_assert_str_eq(rec[0].tag, "META");
	cr_assert_eq(rec[0].hlen, 20);
	cr_assert_eq(rec[0].plen, strlen(meta));
	cr_assert_eq(le32(f + 28), crc32(0, (const Bytef *)meta, 6));
	cr_assert_eq(le32(f + 32), crc32(0, f + 16, 16));
	cr_assert_eq(memcmp(f + 36, meta, 6), 0);

	/* CHNK: first cycle, uncompressed length, count, payload CRC. */
	cr_assert_str_eq(rec[1].tag, "CHNK");
	cr_assert_eq(rec[1].hlen, 36);
	cr_assert_eq(le64(f + rec[1].off + 12), 1000);
	cr_assert_eq(le32(f + rec[1].off + 20), sizeof(payload));
	cr_assert_eq(le32(f + rec[1].off + 24), 3);
	cr_assert_eq(le32(f + rec[1].off + 28), crc32(0, f + rec[1].off + 36, rec[1].plen));
	cr_assert_eq(le32(f + rec[1].off + 32), crc32(0, f + rec[1].off, 32));
	/* zlib stream header: deflate, 32 KiB window, level 6 (FLEVEL 2). */
	cr_assert_eq(f[rec[1].off + 36], 0x78);
	cr_assert_eq(f[rec[1].off + 37], 0x9c);
	cr_assert_eq(inflate_chunk(f, &rec[1], out, sizeof(out)), sizeof(payload));
	for (size_t i = 0; i < sizeof(payload); i++)
		cr_assert_eq(out[i], payload[i], "payload byte %zu: 0x%02x, want 0x%02x", i, out[i], payload[i]);

	/* TEND: total, chunks, CRC of everything before it; last bytes. */
	cr_assert_str_eq(rec[2].tag, "TEND");
	cr_assert_eq(rec[2].hlen, 32);
	cr_assert_eq(rec[2].plen, 0);
	cr_assert_eq(le64(f + rec[2].off + 12), 3);
	cr_assert_eq(le32(f + rec[2].off + 20), 1);
	cr_assert_eq(le32(f + rec[2].off + 24), crc32(0, f, (uInt)rec[2].off));
	cr_assert_eq(le32(f + rec[2].off + 28), crc32(0, f + rec[2].off, 28));
	cr_assert_eq(rec[2].off + 32, len);
	free(f);
	free(path);
}

/* ================= a file built by hand from FORMAT.md ================= */

struct buf {
	uint8_t p[8192];
	size_t n;
};

static void b_bytes(struct buf *b, const void *p, size_t n)
{
	cr_assert_leq(b->n + n, sizeof(b->p));
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void b_le(struct buf *b, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		b->p[b->n++] = (uint8_t)(v >> (8 * i));
}

static void b_var(struct buf *b, uint64_t v)
{
	while (v >= 0x80) {
		b->p[b->n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b->p[b->n++] = (uint8_t)v;
}

static void b_header(struct buf *b, unsigned major, unsigned minor)
{
	static const uint8_t magic[8] = { 0x89, 'H', 'V', 'T', '\r', '\n', 0x1a, '\n' };

	b_bytes(b, magic, 8);
	b_le(b, major, 2);
	b_le(b, minor, 2);
	b_le(b, crc32(0, b->p + b->n - 12, 12), 4);
}

/* A record: tag, H, P, `fields`, header CRC, payload. */
static size_t b_record(struct buf *b, const char *tag, const struct buf *fields, const void *payload,
		       size_t plen)
{
	size_t start = b->n;

	b_bytes(b, tag, 4);
	b_le(b, 16 + fields->n, 4);
	b_le(b, plen, 4);
	b_bytes(b, fields->p, fields->n);
	b_le(b, crc32(0, b->p + start, (uInt)(b->n - start)), 4);
	b_bytes(b, payload, plen);
	return start;
}

static void b_meta(struct buf *b, const char *meta)
{
	struct buf fl = { .n = 0 };

	b_le(&fl, crc32(0, (const Bytef *)meta, (uInt)strlen(meta)), 4);
	b_record(b, "META", &fl, meta, strlen(meta));
}

/* A chunk of raw (uncompressed) event bytes, as the writer would. */
static size_t b_chunk(struct buf *b, uint64_t first, uint32_t count, const struct buf *raw)
{
	uint8_t z[4096];
	uLongf zn = sizeof(z);
	struct buf fl = { .n = 0 };

	cr_assert_eq(compress2(z, &zn, raw->p, raw->n, 6), Z_OK);
	b_le(&fl, first, 8);
	b_le(&fl, raw->n, 4);
	b_le(&fl, count, 4);
	b_le(&fl, crc32(0, z, zn), 4);
	return b_record(b, "CHNK", &fl, z, zn);
}

static size_t b_end_crc(struct buf *b, uint64_t total, uint32_t chunks, uint32_t fcrc)
{
	struct buf fl = { .n = 0 };

	b_le(&fl, total, 8);
	b_le(&fl, chunks, 4);
	b_le(&fl, fcrc, 4);
	return b_record(b, "TEND", &fl, NULL, 0);
}

static size_t b_end(struct buf *b, uint64_t total, uint32_t chunks)
{
	return b_end_crc(b, total, chunks, crc32(0, b->p, (uInt)b->n));
}

/* One event: kind, body length, body = delta, lp, p+1, vp+1, nargs,
 * args, then `extra` bytes of fields from the future. */
static void b_event(struct buf *b, uint64_t kind, int64_t delta, unsigned lp, uint32_t p, uint32_t vp,
		    unsigned nargs, const uint64_t *args, size_t extra)
{
	struct buf body = { .n = 0 };

	b_var(&body, ((uint64_t)delta << 1) ^ (uint64_t)(delta >> 63));
	b_var(&body, lp);
	b_var(&body, (uint32_t)(p + 1));
	b_var(&body, (uint32_t)(vp + 1));
	b_var(&body, nargs);
	for (unsigned i = 0; i < nargs; i++)
		b_var(&body, args[i]);
	for (size_t i = 0; i < extra; i++)
		body.p[body.n++] = 0xa5;
	b_var(b, kind);
	b_var(b, body.n);
	b_bytes(b, body.p, body.n);
}

/* Two chunks, a future minor version, an unknown kind with a body of
 * its own, known kinds with extra arguments and fields, and an unknown
 * record type. */
static void build_future_file(struct buf *f)
{
	static const uint64_t args6[6] = { 7, 0x1111, 0x2222, 0x3333, 0xdead, 0xbeef };
	static const uint64_t args2[2] = { 0x30, 0x80 };
	struct buf raw = { .n = 0 }, fl = { .n = 0 };
	static const uint8_t xtra[5] = "hello";

	f->n = 0;
	b_header(f, 1, 7);
	b_meta(f, "simulator=hvsim 9.0\n");
	b_event(&raw, TRACE_MARKER, 0, 0, 1, 2, 6, args6, 0);
	/* A kind from the future: its cycle delta still counts. */
	b_event(&raw, 999, 500, 3, TRACE_NONE, TRACE_NONE, 0, NULL, 40);
	b_event(&raw, TRACE_VM_EXIT, 25, 1, 0, 0, 2, args2, 3);
	b_chunk(f, 5000, 3, &raw);
	b_le(&fl, 0x0102030405060708ull, 8);
	b_record(f, "XTRA", &fl, xtra, sizeof(xtra));
	raw.n = 0;
	b_event(&raw, 40000, -100, 0, 0, 0, 0, NULL, 0);
	b_event(&raw, TRACE_VM_ENTRY, 0, 0, 0, 0, 0, NULL, 0);
	b_chunk(f, 7000, 2, &raw);
	b_end(f, 5, 2);
}

Test(trace, reader_skips_unknown_kinds_fields_and_records)
{
	static const struct trace_event want[] = {
		{ .cycle = 5000, .kind = TRACE_MARKER, .lp = 0, .partition = 1, .vp = 2,
		  .arg = { 7, 0x1111, 0x2222, 0x3333 } },
		{ .cycle = 5525, .kind = TRACE_VM_EXIT, .lp = 1, .partition = 0, .vp = 0,
		  .arg = { 0x30, 0x80, 0, 0 } },
		{ .cycle = 6900, .kind = TRACE_VM_ENTRY, .lp = 0, .partition = 0, .vp = 0 },
	};
	char *path = tpath("future.hvt");
	struct trace_reader *r;
	struct buf f;

	build_future_file(&f);
	spill(path, f.p, f.n);
	r = read_expect(path, want, 3, 0);
	cr_assert_eq(trace_reader_skipped(r), 2);
	cr_assert_str_eq(trace_reader_meta(r), "simulator=hvsim 9.0\n");
	trace_reader_close(r);
	free(path);
}

/* ================= errors ================= */

/* Expects trace_reader_open to fail with exactly "path: <want>". */
static void open_fails(const char *path, const char *want)
{
	char err[256] = "", full[512];

	cr_assert_null(trace_reader_open(path, err, sizeof(err)), "opened %s", path);
	snprintf(full, sizeof(full), "%s: %s", path, want);
	cr_assert_str_eq(err, full);
}

/* Reads all it can of `path`; expects `ngood` events then the error
 * "path: <want>".  Returns nothing; events are checked against want_ev
 * when given. */
static void read_fails(const char *path, const struct trace_event *want_ev, size_t ngood, const char *want)
{
	struct trace_reader *r;
	char full[512];
	struct trace_event ev;

	if (want_ev) {
		r = read_expect(path, want_ev, ngood, -1);
	} else {
		char err[256] = "";
		size_t n = 0;

		r = trace_reader_open(path, err, sizeof(err));
		cr_assert_not_null(r, "open: %s", err);
		while (trace_next(r, &ev) == 1)
			n++;
		cr_assert_eq(n, ngood);
	}
	snprintf(full, sizeof(full), "%s: %s", path, want);
	cr_assert_not_null(trace_reader_error(r));
	cr_assert_str_eq(trace_reader_error(r), full);
	trace_reader_close(r);
}

Test(trace, corrupt_payload_crc_names_the_chunk_and_its_offset)
{
	struct trace_event *ev = calloc(NBIG, sizeof(*ev));
	char *path = tpath("crc.hvt"), want[256];
	struct wrec rec[64];
	uint32_t stored, computed, good;
	size_t len, n;
	uint8_t *f;

	gen_events(ev, NBIG, 7);
	write_trace(path, meta_std, ev, NBIG);
	f = slurp(path, &len);
	n = walk(f, len, rec, 64);
	cr_assert_geq(n, 5);
	/* Flip a bit in the middle of chunk 1's compressed payload. */
	f[rec[2].off + rec[2].hlen + rec[2].plen / 2] ^= 0x10;
	spill(path, f, len);
	good = le32(f + rec[1].off + 24);
	stored = le32(f + rec[2].off + 28);
	computed = crc32(0, f + rec[2].off + 36, rec[2].plen);
	snprintf(want, sizeof(want), "offset %zu: chunk 1: payload CRC mismatch (stored 0x%08x, computed 0x%08x)",
		 rec[2].off, stored, computed);
	read_fails(path, ev, good, want);
	free(f);
	free(ev);
	free(path);
}

Test(trace, corrupt_record_header_is_caught_by_its_crc)
{
	struct trace_event *ev = calloc(NBIG, sizeof(*ev));
	char *path = tpath("hcrc.hvt"), want[256];
	struct wrec rec[64];
	uint32_t good, stored, computed;
	size_t len;
	uint8_t *f;

	gen_events(ev, NBIG, 8);
	write_trace(path, meta_std, ev, NBIG);
	f = slurp(path, &len);
	walk(f, len, rec, 64);
	good = le32(f + rec[1].off + 24);
	/* Chunk 1's event count, off by one. */
	f[rec[2].off + 24] ^= 1;
	spill(path, f, len);
	stored = le32(f + rec[2].off + 32);
	computed = crc32(0, f + rec[2].off, 32);
	snprintf(want, sizeof(want),
		 "offset %zu: record 'CHNK': header CRC mismatch (stored 0x%08x, computed 0x%08x)",
		 rec[2].off, stored, computed);
	read_fails(path, ev, good, want);
	free(f);
	free(ev);
	free(path);
}

Test(trace, truncated_file_gives_the_good_chunks_then_an_error)
{
	struct trace_event *ev = calloc(NBIG, sizeof(*ev));
	char *path = tpath("trunc.hvt"), want[256];
	struct wrec rec[64];
	size_t len, n, good;
	uint8_t *f;

	gen_events(ev, NBIG, 9);
	write_trace(path, meta_std, ev, NBIG);
	f = slurp(path, &len);
	n = walk(f, len, rec, 64);
	cr_assert_geq(n, 5);
	good = le32(f + rec[1].off + 24) + le32(f + rec[2].off + 24);

	/* In the middle of chunk 2's payload. */
	spill(path, f, rec[3].off + 36 + 100);
	snprintf(want, sizeof(want), "offset %zu: chunk 2: truncated payload (100 of %u bytes)",
		 rec[3].off, rec[3].plen);
	read_fails(path, ev, good, want);

	/* In the middle of chunk 2's record header. */
	spill(path, f, rec[3].off + 20);
	snprintf(want, sizeof(want), "offset %zu: truncated record header (20 of 36 bytes)", rec[3].off);
	read_fails(path, ev, good, want);
	spill(path, f, rec[3].off + 5);
	snprintf(want, sizeof(want), "offset %zu: truncated record header (5 of 12 bytes)", rec[3].off);
	read_fails(path, ev, good, want);

	/* Every chunk there, the end record missing. */
	spill(path, f, rec[n - 1].off);
	snprintf(want, sizeof(want), "offset %zu: missing end record (file ends after %d events in %zu chunks)",
		 rec[n - 1].off, NBIG, n - 2);
	read_fails(path, ev, NBIG, want);
	free(f);
	free(ev);
	free(path);
}

Test(trace, bad_magic_version_and_header_crc_are_refused_at_open)
{
	char *path = tpath("bad.hvt"), want[256];
	struct buf f = { .n = 0 };

	spill(path, "GIF89a not a trace at all", 25);
	open_fails(path, "offset 0: bad magic (not an hvsim trace)");
	spill(path, "", 0);
	open_fails(path, "offset 0: empty file (not an hvsim trace)");
	spill(path, "\x89HVT\r\n", 6);
	open_fails(path, "offset 0: truncated file header (6 of 16 bytes)");

	b_header(&f, 2, 0);
	b_meta(&f, "");
	spill(path, f.p, f.n);
	open_fails(path, "offset 8: unsupported version 2.0 (this reader reads 1.x)");

	f.n = 0;
	b_header(&f, 1, 0);
	f.p[11] = 1;	/* minor 256, CRC not updated */
	b_meta(&f, "");
	spill(path, f.p, f.n);
	snprintf(want, sizeof(want), "offset 12: file header CRC mismatch (stored 0x%08x, computed 0x%08x)",
		 le32(f.p + 12), (uint32_t)crc32(0, f.p, 12));
	open_fails(path, want);

	open_fails("/nonexistent/hvsim/t.hvt", "cannot open: No such file or directory");
	free(path);
}

Test(trace, meta_errors_are_refused_at_open)
{
	char *path = tpath("meta.hvt");
	struct buf f = { .n = 0 }, fl = { .n = 0 };

	b_header(&f, 1, 0);
	b_meta(&f, "a=1\nnot a key=2\n");
	spill(path, f.p, f.n);
	open_fails(path, "offset 16: META: bad meta line 2: expected key=value");

	f.n = 0;
	b_header(&f, 1, 0);
	b_meta(&f, "a=1");
	spill(path, f.p, f.n);
	open_fails(path, "offset 16: META: bad meta line 1: no newline at the end");

	f.n = 0;
	b_header(&f, 1, 0);
	b_meta(&f, "a=\x1b[31m\n");
	spill(path, f.p, f.n);
	open_fails(path, "offset 16: META: bad meta line 1: control character 0x1b");

	f.n = 0;
	b_header(&f, 1, 0);
	b_le(&fl, 0, 8);
	b_le(&fl, 0, 4);
	b_le(&fl, 0, 4);
	b_le(&fl, 0, 4);
	b_record(&f, "CHNK", &fl, NULL, 0);
	spill(path, f.p, f.n);
	open_fails(path, "offset 16: expected the META record, found 'CHNK'");

	f.n = 0;
	b_header(&f, 1, 0);
	spill(path, f.p, f.n);
	open_fails(path, "offset 16: missing META record");
	free(path);
}

Test(trace, inconsistent_chunks_and_end_records_are_errors)
{
	static const uint64_t args[1] = { 1 };
	struct buf f, raw = { .n = 0 }, garbage = { .n = 0 }, fl = { .n = 0 };
	char *path = tpath("inc.hvt"), want[256];
	uint32_t fcrc, computed;
	size_t at;

	b_event(&raw, TRACE_MARKER, 0, 0, 0, 0, 1, args, 0);
	b_event(&raw, TRACE_MARKER, 1, 0, 0, 0, 1, args, 0);

	/* Chunk event count not what its payload holds. */
	f.n = 0;
	b_header(&f, 1, 0);
	b_meta(&f, "");
	at = b_chunk(&f, 0, 3, &raw);
	b_end(&f, 3, 1);
	spill(path, f.p, f.n);
	snprintf(want, sizeof(want), "offset %zu: chunk 0: event count mismatch (header says 3, payload holds 2)",
		 at);
	read_fails(path, NULL, 0, want);

	/* End record total not what the chunks hold. */
	f.n = 0;
	b_header(&f, 1, 0);
	b_meta(&f, "");
	b_chunk(&f, 0, 2, &raw);
	at = b_end(&f, 3, 1);
	spill(path, f.p, f.n);
	snprintf(want, sizeof(want),
		 "offset %zu: end record: event count mismatch (end record says 3, chunks hold 2)", at);
	read_fails(path, NULL, 2, want);

	/* A whole chunk cut out and the end record's counts fixed up:
	 * only the file CRC still sees it. */
	f.n = 0;
	b_header(&f, 1, 0);
	b_meta(&f, "");
	b_chunk(&f, 0, 2, &raw);
	b_chunk(&f, 1, 2, &raw);
	fcrc = crc32(0, f.p, (uInt)f.n);
	f.n = 0;
	b_header(&f, 1, 0);
	b_meta(&f, "");
	b_chunk(&f, 1, 2, &raw);
	computed = crc32(0, f.p, (uInt)f.n);
	at = b_end_crc(&f, 2, 1, fcrc);
	spill(path, f.p, f.n);
	snprintf(want, sizeof(want), "offset %zu: end record: file CRC mismatch (stored 0x%08x, computed 0x%08x)",
		 at, fcrc, computed);
	read_fails(path, NULL, 2, want);

	/* Trailing bytes. */
	f.n = 0;
	b_header(&f, 1, 0);
	b_meta(&f, "");
	b_chunk(&f, 0, 2, &raw);
	b_end(&f, 2, 1);
	b_bytes(&f, "x", 1);
	spill(path, f.p, f.n);
	snprintf(want, sizeof(want), "offset %zu: trailing data after the end record", f.n - 1);
	read_fails(path, NULL, 2, want);

	/* A payload with a good CRC that is not a zlib stream. */
	f.n = 0;
	b_header(&f, 1, 0);
	b_meta(&f, "");
	b_bytes(&garbage, "not zlib at all", 15);
	b_le(&fl, 0, 8);
	b_le(&fl, 10, 4);
	b_le(&fl, 1, 4);
	b_le(&fl, crc32(0, garbage.p, (uInt)garbage.n), 4);
	at = b_record(&f, "CHNK", &fl, garbage.p, garbage.n);
	b_end(&f, 1, 1);
	spill(path, f.p, f.n);
	snprintf(want, sizeof(want), "offset %zu: chunk 0: zlib error: incorrect header check", at);
	read_fails(path, NULL, 0, want);

	/* An event whose body runs past the payload. */
	raw.n = 0;
	b_var(&raw, TRACE_MARKER);
	b_var(&raw, 9);
	b_bytes(&raw, "\0\0\0\0", 4);
	f.n = 0;
	b_header(&f, 1, 0);
	b_meta(&f, "");
	at = b_chunk(&f, 0, 1, &raw);
	b_end(&f, 1, 1);
	spill(path, f.p, f.n);
	snprintf(want, sizeof(want), "offset %zu: chunk 0: event 0: event body runs past the chunk payload", at);
	read_fails(path, NULL, 0, want);
	free(path);
}

Test(trace, emit_refuses_kinds_outside_the_table)
{
	char *path = tpath("k.hvt"), err[256];
	struct trace_writer *w = trace_writer_open(path, NULL, err, sizeof(err));
	struct trace_event ev = { .kind = 0, .partition = TRACE_NONE, .vp = TRACE_NONE };

	cr_assert_not_null(w, "%s", err);
	cr_assert_eq(trace_emit(w, &ev), -EINVAL);
	ev.kind = TRACE_KIND_MAX;
	cr_assert_eq(trace_emit(w, &ev), -EINVAL);
	ev.kind = TRACE_MARKER;
	cr_assert_eq(trace_emit(w, &ev), 0);
	cr_assert_eq(trace_writer_count(w), 1);
	cr_assert_eq(trace_writer_close(w), 0);
	free(path);
}

Test(trace, writer_open_errors_name_the_path)
{
	char *path = tpath("w.hvt"), err[256], want[256];

	cr_assert_null(trace_writer_open("/nonexistent/hvsim/t.hvt", "", err, sizeof(err)));
	cr_assert_str_eq(err, "/nonexistent/hvsim/t.hvt: cannot create: No such file or directory");
	cr_assert_null(trace_writer_open(path, "lps=1\n=2\n", err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: bad meta line 2: expected key=value", path);
	cr_assert_str_eq(err, want);
	cr_assert_eq(access(path, F_OK), -1, "a refused meta still created the file");
	free(path);
}

Test(trace, kind_and_arg_names)
{
	cr_assert_str_eq(trace_kind_name(TRACE_VM_ENTRY), "vm_entry");
	cr_assert_str_eq(trace_kind_name(TRACE_VM_ENTRY_FAIL), "vm_entry_fail");
	cr_assert_str_eq(trace_kind_name(TRACE_VM_EXIT), "vm_exit");
	cr_assert_str_eq(trace_kind_name(TRACE_MARKER), "marker");
	cr_assert_null(trace_kind_name(0));
	cr_assert_null(trace_kind_name(TRACE_KIND_MAX));
	cr_assert_str_eq(trace_arg_name(TRACE_VM_EXIT, 0), "reason");
	cr_assert_str_eq(trace_arg_name(TRACE_VM_EXIT, 3), "cycles");
	cr_assert_str_eq(trace_arg_name(TRACE_VM_ENTRY, 2), "intr_info");
	cr_assert_null(trace_arg_name(TRACE_VM_ENTRY_FAIL, 3));
	cr_assert_null(trace_arg_name(TRACE_VM_EXIT, 4));
	cr_assert_null(trace_arg_name(999, 0));
}

/* ================= text dump ================= */

static const char *test_namer(unsigned kind, unsigned arg, uint64_t value)
{
	if (kind == TRACE_VM_EXIT && arg == 0 && value == 30)
		return "IO_INSTRUCTION";
	if (kind == TRACE_VM_EXIT && arg == 1 && value == 0x3f8)
		return "not a name";	/* spaces: ignored */
	return NULL;
}

static char *dump_to_string(const char *path, int *rc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	cr_assert_not_null(out);
	*rc = trace_dump(path, out);
	fclose(out);
	return text;
}

Test(trace, dump_prints_meta_then_one_exact_line_per_event)
{
	static const struct trace_event ev[] = {
		{ .cycle = 0, .kind = TRACE_MARKER, .lp = 0, .partition = TRACE_NONE, .vp = TRACE_NONE,
		  .arg = { 1, 0xabc } },
		{ .cycle = 1200, .kind = TRACE_VM_ENTRY, .lp = 0, .partition = 0, .vp = 0,
		  .arg = { 1, 0x100000, 0x80000b0e, 410 } },
		{ .cycle = 1650, .kind = TRACE_VM_EXIT, .lp = 0, .partition = 0, .vp = 0,
		  .arg = { 30, 0x3f8, 0x100012, 380 } },
		{ .cycle = 2100, .kind = TRACE_VM_ENTRY_FAIL, .lp = 1, .partition = 2, .vp = TRACE_NONE,
		  .arg = { 0x80000021, 0, 0xffffffff81000000ull, 5 } },
		{ .cycle = UINT64_MAX, .kind = TRACE_MARKER, .lp = 65535, .partition = TRACE_NONE, .vp = 7,
		  .arg = { UINT64_MAX, UINT64_MAX, 0, 0 } },
	};
	static const char want[] =
		"# simulator=hvsim 0.1.0\n"
		"# profile=sandybridge\n"
		"# frequency_khz=3400000\n"
		"# lps=1\n"
		"0 lp0 marker id=1 arg1=0xabc arg2=0x0 arg3=0x0\n"
		"1200 lp0 p0 vp0 vm_entry launch=1 rip=0x100000 intr_info=0x80000b0e cycles=410\n"
		"1650 lp0 p0 vp0 vm_exit reason=0x1e(IO_INSTRUCTION) qual=0x3f8 rip=0x100012 cycles=380\n"
		"2100 lp1 p2 vm_entry_fail error=0x80000021 qual=0x0 rip=0xffffffff81000000 arg3=0x5\n"
		"18446744073709551615 lp65535 vp7 marker id=18446744073709551615 arg1=0xffffffffffffffff "
		"arg2=0x0 arg3=0x0\n";
	char *path = tpath("dump.hvt"), *text;
	int rc;

	write_trace(path, meta_std, ev, 5);
	trace_set_namer(test_namer);
	text = dump_to_string(path, &rc);
	trace_set_namer(NULL);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(text, want);
	free(text);

	/* Without a namer, numbers only. */
	text = dump_to_string(path, &rc);
	cr_assert_eq(rc, 0);
	cr_assert(strstr(text, " reason=0x1e qual=0x3f8 "));
	free(text);
	free(path);
}

Test(trace, dump_of_a_damaged_file_prints_good_events_then_fails_with_2)
{
	static const struct trace_event ev[] = {
		{ .cycle = 10, .kind = TRACE_MARKER, .partition = TRACE_NONE, .vp = TRACE_NONE, .arg = { 5 } },
	};
	char *path = tpath("dd.hvt"), *text, want[512];
	const char *msg;
	uint8_t *f;
	size_t len;
	int rc;

	write_trace(path, "lps=1\n", ev, 1);
	f = slurp(path, &len);
	spill(path, f, len - 32);	/* drop the end record */
	capture_begin();
	text = dump_to_string(path, &rc);
	msg = capture_end();
	cr_assert_eq(rc, 2);
	cr_assert_str_eq(text, "# lps=1\n10 lp0 marker id=5 arg1=0x0 arg2=0x0 arg3=0x0\n");
	snprintf(want, sizeof(want), "hvsim: %s: offset %zu: missing end record (file ends after 1 events in 1 chunks)\n",
		 path, len - 32);
	cr_assert_str_eq(msg, want);
	free(text);

	spill(path, "nope", 4);
	capture_begin();
	text = dump_to_string(path, &rc);
	msg = capture_end();
	cr_assert_eq(rc, 2);
	cr_assert_str_eq(text, "");
	snprintf(want, sizeof(want), "hvsim: %s: offset 0: bad magic (not an hvsim trace)\n", path);
	cr_assert_str_eq(msg, want);
	free(text);
	free(f);
	free(path);
}
