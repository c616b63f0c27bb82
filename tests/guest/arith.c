/* Integer arithmetic as the SDM (Vol. 2, instruction pages; Vol. 1 3.4.3
 * "EFLAGS") defines it: results and the six status flags of add/sub/adc/
 * sbb/inc/dec/neg, MUL/IMUL/DIV/IDIV edge cases, shifts and rotates with
 * masked counts, bit scans and bit tests, byte swaps, atomics, and loop
 * computations whose results are published constants.
 *
 * Every operation runs in inline asm so the compiler cannot fold it. */
#include "guest.h"

#define CF X86_RFLAGS_CF
#define PF X86_RFLAGS_PF
#define AF X86_RFLAGS_AF
#define ZF X86_RFLAGS_ZF
#define SF X86_RFLAGS_SF
#define OF X86_RFLAGS_OF
#define STATUS (CF | PF | AF | ZF | SF | OF)

/* One two-operand ALU instruction on 64-bit registers with its flags. */
#define ALU64(insn, a, b, flags_out)						\
	({									\
		uint64_t _a = (a), _f;						\
		asm volatile(insn " %2, %0\n\tpushfq\n\tpopq %1"		\
			     : "+r"(_a), "=r"(_f) : "r"((uint64_t)(b)) : "cc");	\
		(flags_out) = _f & STATUS;					\
		_a;								\
	})

/* Logic instructions leave AF undefined (SDM Vol. 2, AND/OR/XOR). */
#define LOGIC_DEFINED (STATUS & ~AF)

static void check_flags(const char *what, uint64_t got, uint64_t want, uint64_t flags,
			uint64_t want_flags, uint64_t defined)
{
	flags &= defined;
	want_flags &= defined;
	report(got == want && flags == want_flags, "%s = 0x%lx flags 0x%03lx (want 0x%lx 0x%03lx)",
	       what, (unsigned long)got, (unsigned long)flags, (unsigned long)want,
	       (unsigned long)want_flags);
}

static void check_alu(const char *what, uint64_t got, uint64_t want, uint64_t flags,
		      uint64_t want_flags)
{
	check_flags(what, got, want, flags, want_flags, STATUS);
}

static void test_add_sub(void)
{
	uint64_t f, r;

	/* OF: signed overflow into the sign bit; AF: carry out of bit 3;
	 * PF: even parity of the low byte (0x00 has even parity). */
	r = ALU64("add", 0x7fffffffffffffffull, 1, f);
	check_alu("INT64_MAX + 1", r, 0x8000000000000000ull, f, OF | SF | AF | PF);
	r = ALU64("add", ~0ull, 1, f);
	check_alu("UINT64_MAX + 1", r, 0, f, CF | ZF | AF | PF);
	r = ALU64("add", 0x12, 0x21, f);
	check_alu("0x12 + 0x21", r, 0x33, f, PF);
	r = ALU64("add", 0x1, 0x2, f);	/* 0x03: two bits set, even */
	check_alu("1 + 2", r, 3, f, PF);
	r = ALU64("add", 0x1, 0x6, f);	/* 0x07: odd parity */
	check_alu("1 + 6", r, 7, f, 0);
	r = ALU64("sub", 0, 1, f);
	check_alu("0 - 1", r, ~0ull, f, CF | SF | AF | PF);
	r = ALU64("sub", 0x8000000000000000ull, 1, f);
	check_alu("INT64_MIN - 1", r, 0x7fffffffffffffffull, f, OF | AF | PF);
	r = ALU64("sub", 5, 5, f);
	check_alu("5 - 5", r, 0, f, ZF | PF);
	r = ALU64("cmp", 3, 5, f);	/* cmp leaves the destination alone */
	check_alu("cmp 3, 5", r, 3, f, CF | SF | AF);	/* 0x..fe: odd parity */
	r = ALU64("and", 0xf0f0, 0x0ff0, f);	/* logic ops clear CF and OF */
	check_flags("0xf0f0 & 0x0ff0", r, 0x00f0, f, PF, LOGIC_DEFINED);
	r = ALU64("xor", 0x8000000000000000ull, 0, f);
	check_flags("xor sign", r, 0x8000000000000000ull, f, SF | PF, LOGIC_DEFINED);
	r = ALU64("or", 0, 0, f);
	check_flags("0 | 0", r, 0, f, ZF | PF, LOGIC_DEFINED);
}

static void test_carry_chain(void)
{
	uint64_t lo = ~0ull, hi = 0, f;

	/* 128-bit add and subtract through ADC/SBB */
	asm("addq %3, %0\n\tadcq %4, %1\n\tpushfq\n\tpopq %2"
	    : "+r"(lo), "+r"(hi), "=r"(f) : "r"(1ull), "r"(0ull) : "cc");
	report(lo == 0 && hi == 1 && !(f & CF), "add/adc: (2^64-1) + 1 = 2^64");
	asm("subq %3, %0\n\tsbbq %4, %1\n\tpushfq\n\tpopq %2"
	    : "+r"(lo), "+r"(hi), "=r"(f) : "r"(1ull), "r"(0ull) : "cc");
	report(lo == ~0ull && hi == 0 && !(f & CF), "sub/sbb: 2^64 - 1 borrows from the high word");
	asm("subq %3, %0\n\tsbbq %4, %1\n\tpushfq\n\tpopq %2"
	    : "+r"(lo), "+r"(hi), "=r"(f) : "r"(~0ull), "r"(1ull) : "cc");
	report(lo == 0 && hi == ~0ull && (f & CF) && (f & SF), "sub/sbb: borrow out of the top");
}

static void test_inc_dec_neg(void)
{
	uint64_t v, f;

	v = 41;
	asm("stc\n\tincq %0\n\tpushfq\n\tpopq %1" : "+r"(v), "=r"(f) : : "cc");
	report(v == 42 && (f & CF), "inc leaves CF set");
	v = ~0ull;
	asm("clc\n\tincq %0\n\tpushfq\n\tpopq %1" : "+r"(v), "=r"(f) : : "cc");
	report(v == 0 && !(f & CF) && (f & ZF), "inc wraps to 0 without CF, ZF set");
	v = 0;
	asm("clc\n\tdecq %0\n\tpushfq\n\tpopq %1" : "+r"(v), "=r"(f) : : "cc");
	report(v == ~0ull && !(f & CF) && (f & SF), "dec of 0: -1, SF set, CF untouched");
	v = 0x8000000000000000ull;
	asm("decq %0\n\tpushfq\n\tpopq %1" : "+r"(v), "=r"(f) : : "cc");
	report(v == 0x7fffffffffffffffull && (f & OF), "dec of INT64_MIN overflows");
	v = 0;
	asm("negq %0\n\tpushfq\n\tpopq %1" : "+r"(v), "=r"(f) : : "cc");
	report(v == 0 && !(f & CF) && (f & ZF), "neg 0: CF clear");
	v = 5;
	asm("negq %0\n\tpushfq\n\tpopq %1" : "+r"(v), "=r"(f) : : "cc");
	report(v == (uint64_t)-5 && (f & CF) && (f & SF), "neg 5 = -5, CF set");
	v = 0x8000000000000000ull;
	asm("negq %0\n\tpushfq\n\tpopq %1" : "+r"(v), "=r"(f) : : "cc");
	report(v == 0x8000000000000000ull && (f & OF), "neg INT64_MIN overflows to itself");
}

static void test_partial_registers(void)
{
	uint64_t v = 0x1122334455667788ull;

	asm("movb $0xff, %b0" : "+q"(v));
	report(v == 0x11223344556677ffull, "8-bit write keeps bits 63:8 (0x%lx)", (unsigned long)v);
	asm("movw $0xabcd, %w0" : "+r"(v));
	report(v == 0x112233445566abcdull, "16-bit write keeps bits 63:16 (0x%lx)", (unsigned long)v);
	asm("movl $0x9abcdef0, %k0" : "+r"(v));
	report(v == 0x9abcdef0ull, "32-bit write zero-extends (0x%lx)", (unsigned long)v);
	v = ~0ull;
	asm("addl $1, %k0" : "+r"(v) : : "cc");
	report(v == 0, "32-bit add wraps and clears bits 63:32");
	v = 0x1122334455667788ull;
	asm("movb $0xee, %h0" : "+Q"(v));
	report(v == 0x112233445566ee88ull, "AH-style write changes bits 15:8 only");
}

static void test_sign_extension(void)
{
	uint64_t a, d;
	int64_t s;
	uint32_t u;

	a = (uint64_t)-5;
	asm("cqto" : "=d"(d) : "a"(a));
	report(d == ~0ull, "cqo of -5 fills RDX with ones");
	a = 5;
	asm("cqto" : "=d"(d) : "a"(a));
	report(d == 0, "cqo of 5 clears RDX");
	a = 0x80000000u;
	asm("cltq" : "+a"(a));
	report(a == 0xffffffff80000000ull, "cdqe sign-extends EAX");
	asm("movsbq %1, %0" : "=r"(s) : "m"(*(const volatile uint8_t *)"\x80"));
	report(s == -128, "movsx byte 0x80 = -128");
	asm("movzbl %1, %0" : "=r"(u) : "m"(*(const volatile uint8_t *)"\x80"));
	report(u == 128, "movzx byte 0x80 = 128");
	a = 0xfffffffe;
	asm("movslq %k1, %0" : "=r"(s) : "r"(a));
	report(s == -2, "movsxd 0xfffffffe = -2");
}

static void test_mul(void)
{
	uint64_t lo, hi, f;
	int64_t slo;

	asm("mulq %3\n\tpushfq\n\tpopq %2" : "=a"(lo), "=d"(hi), "=r"(f) : "r"(~0ull), "a"(~0ull) : "cc");
	report(hi == 0xfffffffffffffffeull && lo == 1 && (f & CF) && (f & OF),
	       "mul (2^64-1)^2 = 0xfffffffffffffffe_0000000000000001, CF=OF=1");
	asm("mulq %3\n\tpushfq\n\tpopq %2" : "=a"(lo), "=d"(hi), "=r"(f) : "r"(3ull), "a"(2ull) : "cc");
	report(hi == 0 && lo == 6 && !(f & (CF | OF)), "mul 2*3: RDX = 0, CF=OF=0");
	asm("imulq %3\n\tpushfq\n\tpopq %2" : "=a"(slo), "=d"(hi), "=r"(f) : "r"(1ull), "a"(-1ll) : "cc");
	report(slo == -1 && hi == ~0ull && !(f & (CF | OF)),
	       "imul -1*1: RDX is the sign extension, CF=OF=0");
	lo = 0x4000000000000000ull;
	asm("imulq %2, %0\n\tpushfq\n\tpopq %1" : "+r"(lo), "=r"(f) : "r"(2ull) : "cc");
	report(lo == 0x8000000000000000ull && (f & CF) && (f & OF),
	       "imul 2^62 * 2 truncates: CF=OF=1");
	lo = (uint64_t)-3;
	asm("imulq $7, %0, %0\n\tpushfq\n\tpopq %1" : "+r"(lo), "=r"(f) : : "cc");
	report((int64_t)lo == -21 && !(f & (CF | OF)), "imul -3 * 7 = -21");
	/* 8-bit forms: AX = AL * r/m8 */
	lo = 200;
	asm("movb $3, %%cl\n\tmulb %%cl" : "+a"(lo) : : "rcx", "cc");
	report((lo & 0xffff) == 600, "mulb 200*3 = 600 in AX");

	volatile uint64_t x = 0x123456789abcdef0ull, y = 0xfedcba9876543210ull;
	unsigned __int128 p = (unsigned __int128)x * y;

	report((uint64_t)(p >> 64) == 0x121fa00ad77d7422ull && (uint64_t)p == 0x236d88fe5618cf00ull,
	       "128-bit product 0x123456789abcdef0 * 0xfedcba9876543210");
}

static void test_div(void)
{
	uint64_t q, r;
	int64_t sq, sr;

	asm("divq %4" : "=a"(q), "=d"(r) : "a"(5ull), "d"(1ull), "r"(2ull) : "cc");
	report(q == 0x8000000000000002ull && r == 1, "div (2^64 + 5) / 2 = 2^63 + 2 rem 1");
	asm("idivq %4" : "=a"(sq), "=d"(sr) : "a"(-7ll), "d"(-1ll), "r"(2ll) : "cc");
	report(sq == -3 && sr == -1, "idiv -7 / 2 = -3 rem -1 (truncates toward zero)");
	asm("idivq %4" : "=a"(sq), "=d"(sr) : "a"(7ll), "d"(0ll), "r"(-2ll) : "cc");
	report(sq == -3 && sr == 1, "idiv 7 / -2 = -3 rem 1");
	q = 0x0105;
	asm("movb $0x10, %%cl\n\tdivb %%cl" : "+a"(q) : : "rcx", "cc");
	report((q & 0xff) == 0x10 && ((q >> 8) & 0xff) == 5, "divb AX 0x105 / 0x10: AL = 0x10, AH = 5");
}

static void test_shifts(void)
{
	uint64_t v, f;

	v = 1;
	asm("shlq %%cl, %0" : "+r"(v) : "c"(65) : "cc");
	report(v == 2, "64-bit shift count is masked to 6 bits (shl 65 = shl 1)");
	v = 1;
	asm("shll %%cl, %k0" : "+r"(v) : "c"(33) : "cc");
	report(v == 2, "32-bit shift count is masked to 5 bits (shl 33 = shl 1)");
	v = 0x10;
	asm("stc\n\tshlq %%cl, %0\n\tpushfq\n\tpopq %1" : "+r"(v), "=r"(f) : "c"(0) : "cc");
	report(v == 0x10 && (f & CF), "shift by 0 leaves the flags alone");
	v = 0x8000000000000000ull;
	asm("shlq $1, %0\n\tpushfq\n\tpopq %1" : "+r"(v), "=r"(f) : : "cc");
	report(v == 0 && (f & CF) && (f & ZF) && (f & OF), "shl 1 of bit 63: CF=ZF=OF=1");
	v = 3;
	asm("shrq $1, %0\n\tpushfq\n\tpopq %1" : "+r"(v), "=r"(f) : : "cc");
	report(v == 1 && (f & CF), "shr 1 of 3 = 1, CF = bit shifted out");
	v = (uint64_t)-8;
	asm("sarq $1, %0" : "+r"(v) : : "cc");
	report((int64_t)v == -4, "sar -8 >> 1 = -4");
	v = 0x8000000000000000ull;
	asm("sarq $63, %0" : "+r"(v) : : "cc");
	report(v == ~0ull, "sar INT64_MIN >> 63 = -1");
	v = 0x8000000000000001ull;
	asm("rolq $1, %0\n\tpushfq\n\tpopq %1" : "+r"(v), "=r"(f) : : "cc");
	report(v == 3 && (f & CF), "rol 1: bit 63 into bit 0 and CF");
	v = 1;
	asm("rorq $4, %0" : "+r"(v) : : "cc");
	report(v == 0x1000000000000000ull, "ror 4 of 1 = 0x1000000000000000");
	v = 0;
	asm("stc\n\trclq $1, %0\n\tpushfq\n\tpopq %1" : "+r"(v), "=r"(f) : : "cc");
	report(v == 1 && !(f & CF), "rcl 1 rotates CF in");
	v = 1;
	asm("clc\n\trcrq $1, %0\n\tpushfq\n\tpopq %1" : "+r"(v), "=r"(f) : : "cc");
	report(v == 0 && (f & CF), "rcr 1 rotates bit 0 into CF");
	v = 1;
	asm("shldq $4, %1, %0" : "+r"(v) : "r"(0xf000000000000000ull) : "cc");
	report(v == 0x1f, "shld 4 shifts in the source's high bits");
	v = 0x10;
	asm("shrdq $4, %1, %0" : "+r"(v) : "r"(0xfull) : "cc");
	report(v == 0xf000000000000001ull, "shrd 4 shifts in the source's low bits");
}

static void test_bits(void)
{
	uint64_t v, f, r;
	uint64_t mem[2] = { 0, 0x40 };

	asm("bsfq %1, %0" : "=r"(r) : "r"(0x80ull) : "cc");
	report(r == 7, "bsf 0x80 = 7");
	asm("bsrq %1, %0" : "=r"(r) : "r"(0x8000000000000080ull) : "cc");
	report(r == 63, "bsr 0x8000000000000080 = 63");
	r = 0;
	asm("bsfq %2, %0\n\tpushfq\n\tpopq %1" : "+r"(r), "=r"(f) : "r"(0ull) : "cc");
	report(f & ZF, "bsf of 0 sets ZF");
	asm("btq $5, %1\n\tpushfq\n\tpopq %0" : "=r"(f) : "r"(0x20ull) : "cc");
	report(f & CF, "bt 5 of 0x20: CF = 1");
	v = 0;
	asm("btsq $40, %0" : "+r"(v) : : "cc");
	report(v == (1ull << 40), "bts sets bit 40");
	asm("btcq $1, %0\n\tbtrq $40, %0" : "+r"(v) : : "cc");
	report(v == 2, "btc toggles, btr clears");
	/* With a register offset and a memory operand the bit offset is not
	 * masked: bit 70 is bit 6 of the next quadword (SDM Vol. 2A, BT). */
	asm("btq %2, %1\n\tpushfq\n\tpopq %0" : "=r"(f) : "m"(mem), "r"(70ull) : "cc");
	report(f & CF, "bt reg offset 70 reaches bit 6 of the next quadword");
	asm("bswapq %0" : "=r"(v) : "0"(0x0102030405060708ull));
	report(v == 0x0807060504030201ull, "bswap 64-bit");
	asm("bswapl %k0" : "=r"(v) : "0"(0xaabbccdd11223344ull));
	report(v == 0x44332211ull, "bswap 32-bit zero-extends");
	if (cpuid(1, 0).ecx & (1u << 23)) {
		/* CPUID says POPCNT exists, so it must not raise #UD. */
		r = 0;
		exc_reset();
		asm volatile("1: popcntq %1, %0\n2:\n\t" EX_TABLE("1b", "2b")
			     : "+r"(r) : "r"(0xf0f0f0f0f0f0f0f1ull) : "cc", "memory");
		report(exc_last.vector == EXC_NONE && r == 33, "popcnt = 33 (got %lu, exception %d)",
		       (unsigned long)r, exc_last.vector);
	} else {
		report_skip("popcnt (CPUID.1:ECX.POPCNT clear)");
	}
}

static void test_setcc_cmov_lea(void)
{
	uint8_t lt, b, g;
	uint64_t v;

	asm("cmpq %4, %3\n\tsetl %0\n\tsetb %1\n\tsetg %2"
	    : "=q"(lt), "=q"(b), "=q"(g) : "r"(-3ll), "r"(5ll) : "cc");
	report(lt == 1 && b == 0 && g == 0, "cmp -3, 5: signed less, unsigned above");
	v = 1;
	asm("cmpq $2, %1\n\tcmovlq %2, %0" : "+r"(v) : "r"(1ull), "r"(99ull) : "cc");
	report(v == 99, "cmovl taken");
	asm("cmpq $0, %1\n\tcmovlq %2, %0" : "+r"(v) : "r"(1ull), "r"(7ull) : "cc");
	report(v == 99, "cmovl not taken leaves the destination");
	asm("leaq 0x10(%1,%2,8), %0" : "=r"(v) : "r"(0x1000ull), "r"(3ull));
	report(v == 0x1028, "lea 0x10(base, index, 8)");
}

static void test_atomics(void)
{
	uint64_t mem = 10, a, r;
	uint8_t z;

	r = 5;
	asm volatile("lock xaddq %0, %1" : "+r"(r), "+m"(mem) : : "cc", "memory");
	report(r == 10 && mem == 15, "xadd returns old, stores sum");
	a = 15;
	asm volatile("lock cmpxchgq %3, %1\n\tsetz %2" : "+a"(a), "+m"(mem), "=q"(z) : "r"(77ull)
		     : "cc", "memory");
	report(z && mem == 77, "cmpxchg succeeds when RAX matches");
	a = 1;
	asm volatile("lock cmpxchgq %3, %1\n\tsetz %2" : "+a"(a), "+m"(mem), "=q"(z) : "r"(5ull)
		     : "cc", "memory");
	report(!z && a == 77 && mem == 77, "cmpxchg fails and loads RAX");
	r = 3;
	asm volatile("xchgq %0, %1" : "+r"(r), "+m"(mem) : : "memory");
	report(r == 77 && mem == 3, "xchg swaps");
	if (cpuid(1, 0).ecx & (1u << 13)) {
		static uint64_t m16[2] __attribute__((aligned(16))) = { 1, 2 };
		uint64_t lo = 1, hi = 2;

		z = 0;
		exc_reset();
		asm volatile("1: lock cmpxchg16b %1\n\tsetz %2\n2:\n\t" EX_TABLE("1b", "2b")
			     : "+a"(lo), "+m"(m16), "+q"(z), "+d"(hi)
			     : "b"(0x33ull), "c"(0x44ull) : "cc", "memory");
		report(exc_last.vector == EXC_NONE && z && m16[0] == 0x33 && m16[1] == 0x44,
		       "cmpxchg16b succeeds (exception %d)", exc_last.vector);
	} else {
		report_skip("cmpxchg16b (CPUID.1:ECX.CX16 clear)");
	}
}

/* ---- loops against published constants ---- */

static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

static void test_loops(void)
{
	static const volatile char check[] = "123456789";
	uint8_t buf[9];
	volatile uint64_t limit = 10000, fib_n = 90, start = 27;
	uint64_t a = 0, b = 1, sum = 0, n = start, steps = 0;

	for (int i = 0; i < 9; i++)
		buf[i] = (uint8_t)check[i];
	/* CRC-32/IEEE check value from the CRC catalogue */
	report(crc32_bitwise(buf, 9) == 0xcbf43926u, "crc32(\"123456789\") = 0xcbf43926");
	for (uint64_t i = 0; i < fib_n; i++) {
		uint64_t t = a + b;

		a = b;
		b = t;
	}
	report(a == 2880067194370816120ull, "fib(90) = 2880067194370816120 (got %lu)",
	       (unsigned long)a);
	for (uint64_t i = 0; i < limit; i++)
		sum += i * i;
	report(sum == 333283335000ull, "sum of i^2 below 10000 = 333283335000 (got %lu)",
	       (unsigned long)sum);
	while (n != 1) {
		n = (n & 1) ? 3 * n + 1 : n / 2;
		steps++;
	}
	report(steps == 111, "Collatz(27) takes 111 steps (got %lu)", (unsigned long)steps);
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	test_add_sub();
	test_carry_chain();
	test_inc_dec_neg();
	test_partial_registers();
	test_sign_extension();
	test_mul();
	test_div();
	test_shifts();
	test_bits();
	test_setcc_cmov_lea();
	test_atomics();
	test_loops();
}
