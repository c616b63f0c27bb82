/* The observer hook and read-only inspection of an LP (cpu.h): what
 * `hvsim lab` shows of the CPU without reaching into its internals. */
#include <capstone/capstone.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cpu_priv.h"

void cpu_set_observer(struct cpu *c, const struct cpu_observer *o)
{
	if (!o) {
		c->observer = NULL;
		return;
	}
	c->observer_copy = *o;
	c->observer = &c->observer_copy;
}

int cpu_read_phys(struct cpu *c, uint64_t pa, void *buf, size_t n)
{
	return memmap_read_phys(c->mem, pa, buf, n) ? -EFAULT : 0;
}

/* A look, not an access: nothing is priced or changed (cpu_lin_peek). */
int cpu_read_linear(struct cpu *c, uint64_t lin, void *buf, size_t n)
{
	return cpu_lin_peek(c, lin, buf, n, 0) ? -EFAULT : 0;
}

uint64_t cpu_vmcs_current(const struct cpu *c)
{
	return c->vmx.current;
}

int cpu_vmcs_read(struct cpu *c, uint32_t encoding, uint64_t *v)
{
	const struct vmcs_field *f = vmcs_field_find(encoding);

	if (!f || c->vmx.current == ~0ull)
		return -ENOENT;
	*v = vmcs_read_field(&c->vmx.vmcs, f, encoding);
	return 0;
}

int cpu_vmcs_field(size_t i, uint32_t *encoding, const char **name)
{
	const struct vmcs_field *f = vmcs_field_at(i);

	if (!f)
		return -ENOENT;
	*encoding = f->encoding;
	*name = f->name;
	return 0;
}

const char *cpu_vmcs_field_name(uint32_t encoding)
{
	return vmcs_field_name(encoding);
}

int cpu_disas(struct cpu *c, uint64_t lin, unsigned count, char *out, size_t outlen)
{
	uint8_t code[16 * 16];
	size_t n = sizeof(code), len = 0;
	csh h;
	cs_insn *in;
	size_t got;
	int bits = 64;

	if (outlen)
		out[0] = '\0';
	if (count > 16)
		count = 16;
	/* Read what can be read: the page of `lin`, then the next one. */
	if (cpu_read_linear(c, lin, code, n)) {
		n = 0x1000 - (lin & 0xfff);
		if (n > sizeof(code))
			n = sizeof(code);
		if (cpu_read_linear(c, lin, code, n))
			return -EFAULT;
	}
	/* Long mode is taken as 64-bit code (hvsim's firmware has no
	 * compatibility-mode code). */
	if (!(cpu_engine_msr(c, MSR_EFER) & EFER_LMA))
		bits = (reg(c, UC_X86_REG_CR0) & CR0_PE) ? 32 : 16;
	if (cs_open(CS_ARCH_X86, bits == 64 ? CS_MODE_64 : bits == 32 ? CS_MODE_32 : CS_MODE_16, &h) != CS_ERR_OK)
		return -ENOMEM;
	got = cs_disasm(h, code, n, lin, count, &in);
	for (size_t i = 0; i < got && len < outlen; i++) {
		char bytes[64] = "";

		for (unsigned b = 0; b < in[i].size && b < 15; b++)
			snprintf(bytes + 3 * b, sizeof(bytes) - 3 * b, "%02x ", in[i].bytes[b]);
		len += (size_t)snprintf(out + len, outlen - len, "0x%016llx: %-24s %s%s%s\n",
					(unsigned long long)in[i].address, bytes, in[i].mnemonic,
					in[i].op_str[0] ? " " : "", in[i].op_str);
	}
	if (got)
		cs_free(in, got);
	cs_close(&h);
	return (int)got;
}
