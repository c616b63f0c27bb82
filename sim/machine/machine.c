/* Builds a machine from its options and runs it.  See machine.h. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acpi.h"
#include "apic.h"
#include "cpu.h"
#include "dev.h"
#include "diag.h"
#include "hvsim_config.h"
#include "machine.h"
#include "memmap.h"
#include "profile.h"
#include "sc_kernel.h"
#include "trace.h"
#include "vflight.h"

#define IRQ_COM1 4
/* The PCI device on bus 0 (docs/platform.md "PCI"): QEMU's edu at 00:03.0,
 * BAR0 where a BIOS might have left it (decode off until the guest sets
 * COMMAND.MEMORY), INTA# on IO-APIC pin 23, which no ISA device uses. */
#define PCI_EDU_DEV 3
#define PCI_EDU_BAR0 0xFEA00000u
#define PCI_EDU_GSI 23

struct machine {
	struct machine_opts o;
	struct cpu_profile *prof;
	struct memmap *mem;
	struct sim_clock *clk;
	struct uart *uart;
	struct debugexit *dbg;
	struct fwcfg *fwcfg;
	struct pci *pci;
	struct pmtimer *pmt;
	struct cpu **lps;
	unsigned nlps;
	struct vflight_book *vflights;	/* every LP's (sim/cpu/vflight.h) */
	struct apic_bus *bus;
	struct lapic **lapics;
	struct lp_slot *slots;		/* kick callbacks' opaque, per LP */
	struct ioapic *ioapic;
	struct pic *pic;
	struct pit *pit;
	struct irqtest *irqtest;
	struct edu *edu;
	uint32_t irqtest_lines;		/* IO-APIC inputs the test device drives high */
	uint32_t pci_lines;		/* ... and PCI INTx# lines */
	struct boot_entry entry;

	enum machine_end end;
	char end_text[256];
	uint32_t exit_value;
	int stopping;
	struct trace_writer *trace;
};

struct lp_slot {
	struct machine *m;
	unsigned lp;
};

/* A LAPIC has something for its LP: the LP looks at its next block
 * boundary, or wakes if it is halted. */
static void lapic_kick(void *opaque)
{
	struct lp_slot *s = opaque;

	if (s->m->lps && s->m->lps[s->lp])
		cpu_irq_kick(s->m->lps[s->lp]);
	sc_kernel_wake(s->lp);
}

/* An ISA interrupt line drives both the 8259 input and the IO-APIC pin
 * the MADT routes it to: IRQ 0 to pin 2 (the interrupt source override
 * sim/dev/acpi.c writes), the others to the pin of the same number. */
static void isa_irq_set(void *opaque, unsigned irq, int level)
{
	struct machine *m = opaque;

	pic_set_irq(m->pic, irq, level);
	ioapic_set_irq(m->ioapic, irq == 0 ? 2 : irq, level);
}

static struct irq_line isa_irq(struct machine *m, unsigned irq)
{
	return (struct irq_line){ isa_irq_set, m, irq };
}

/* The interrupt-line test device and PCI INTx# share IO-APIC inputs the
 * way PCI interrupt lines are shared, wired-OR (PCI 3.0 2.2.6): a pin is
 * high while either drives it high. */
static void gsi_update(struct machine *m, unsigned pin)
{
	ioapic_set_irq(m->ioapic, pin, ((m->irqtest_lines | m->pci_lines) >> pin) & 1);
}

static void set_bit_to(uint32_t *w, unsigned n, int level)
{
	*w = level ? *w | 1u << n : *w & ~(1u << n);
}

static void irqtest_line_set(void *opaque, unsigned n, int level)
{
	struct machine *m = opaque;

	set_bit_to(&m->irqtest_lines, n, level);
	gsi_update(m, n);
}

static void pci_intx_set(void *opaque, unsigned n, int level)
{
	struct machine *m = opaque;

	set_bit_to(&m->pci_lines, n, level);
	gsi_update(m, n);
}

/* A PCI function's MSI: a dword write that the host bridge sees going to
 * 0xFEExxxxx becomes an APIC bus message (SDM Vol. 3 10.11; interrupt
 * remapping, when the VT-d model has it, goes here).  Any other address
 * is an ordinary memory write; only RAM takes it. */
static void pci_msi(void *opaque, uint64_t addr, uint32_t data, uint64_t assert_ps, unsigned devfn)
{
	struct machine *m = opaque;
	struct irq_origin o = { .assert_ps = assert_ps, .kind = IRQ_SRC_MSI, .pin = (uint8_t)devfn };

	if (apic_bus_msi(m->bus, addr, data, &o) < 0)
		memmap_write_phys(m->mem, addr, &data, 4);
}

/* The 8259's INTR output is LINT0 of every LAPIC (virtual wire mode). */
static void pic_intr(void *opaque, int level)
{
	struct machine *m = opaque;
	uint64_t now = sim_now(m->clk);
	int irq = pic_intr_irq(m->pic);
	struct irq_origin o = { .assert_ps = now, .route_ps = now, .kind = IRQ_SRC_PIN,
				.pin = (uint8_t)(irq < 0 ? 0 : irq) };

	apic_bus_set_lint0(m->bus, level, &o);
}

static int pic_extint_ack(void *opaque)
{
	return pic_ack(opaque);
}

/* One LAPIC per LP on one APIC bus, the IO-APIC, the 8259 pair, the PIT
 * and the interrupt-line test device (sim/apic/apic.h, sim/dev/dev.h). */
static int build_apics(struct machine *m)
{
	uint32_t r[4];
	unsigned phys_bits;

	m->bus = apic_bus_new(m->nlps);
	m->lapics = calloc(m->nlps, sizeof(*m->lapics));
	m->slots = calloc(m->nlps, sizeof(*m->slots));
	if (!m->bus || !m->lapics || !m->slots)
		return -ENOMEM;
	m->ioapic = ioapic_new(m->mem, ACPI_IOAPIC_ADDR, (uint8_t)(m->nlps & 0xf), apic_bus_send_cb, m->bus, m->clk);
	m->pic = pic_new(m->mem, pic_intr, m);
	m->pit = m->pic ? pit_new(m->mem, m->clk, isa_irq(m, 0)) : NULL;
	m->irqtest = m->ioapic ? irqtest_new(m->mem, IRQTEST_PORT, irqtest_line_set, m) : NULL;
	if (!m->ioapic || !m->pic || !m->pit || !m->irqtest)
		return -ENOMEM;
	/* MAXPHYADDR bounds IA32_APIC_BASE's base field (SDM 10.4.4). */
	profile_cpuid(m->prof, 0x80000008, 0, r);
	phys_bits = r[0] & 0xff;
	apic_bus_set_clock(m->bus, m->clk);
	apic_bus_set_eoi_listener(m->bus, ioapic_eoi_cb, m->ioapic);
	apic_bus_set_extint(m->bus, pic_extint_ack, m->pic);
	for (unsigned i = 0; i < m->nlps; i++) {
		struct lapic_config lc = {
			.index = i, .bsp = i == 0, .clk = m->clk, .tsc_khz = m->prof->freq_khz,
			.bus_khz = m->prof->apic_timer_khz, .bus = m->bus, .kick = lapic_kick, .opaque = &m->slots[i],
			.phys_bits = phys_bits,
		};

		m->slots[i] = (struct lp_slot){ m, i };
		m->lapics[i] = lapic_new(&lc);
		if (!m->lapics[i])
			return -ENOMEM;
		apic_bus_attach(m->bus, i, m->lapics[i]);
	}
	return 0;
}

static int file_exists(const char *p)
{
	return access(p, R_OK) == 0;
}

/* Data files are looked up in the build tree first (running from a
 * checkout), then where `meson install` puts them. */
int machine_find_profile(const char *name, char *out, size_t outlen)
{
	const char *dirs[] = { HVSIM_SOURCE_DATADIR "/sim/cpu/profiles", HVSIM_DATADIR "/profiles" };

	if (strchr(name, '/') || (strlen(name) > 5 && !strcmp(name + strlen(name) - 5, ".yaml"))) {
		snprintf(out, outlen, "%s", name);
		return 0;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(out, outlen, "%s/%s.yaml", dirs[i], name);
		if (file_exists(out))
			return 0;
	}
	diag_error("no profile named '%s' (looked in %s and %s)", name, dirs[0], dirs[1]);
	return -ENOENT;
}

/* A file the build makes, found in the build tree (running from a
 * checkout) or where `meson install` puts it; `env` overrides both. */
static int find_built(const char *env_name, const char *build_rel, const char *what, char *out, size_t outlen)
{
	const char *env = getenv(env_name);
	const char *name = strrchr(build_rel, '/') + 1;
	char cands[2][4096];

	if (env && *env) {
		snprintf(out, outlen, "%s", env);
		return 0;
	}
	snprintf(cands[0], sizeof(cands[0]), "%s/%s", HVSIM_BUILD_DATADIR, build_rel);
	snprintf(cands[1], sizeof(cands[1]), "%s/firmware/%s", HVSIM_DATADIR, name);
	for (size_t i = 0; i < 2; i++) {
		snprintf(out, outlen, "%s", cands[i]);
		if (file_exists(out))
			return 0;
	}
	diag_error("%s was not found (looked for %s and %s; set %s)", what, cands[0], cands[1], env_name);
	return -ENOENT;
}

int machine_find_firmware(char *out, size_t outlen)
{
	return find_built("HVSIM_FIRMWARE", "hv_model/hv_model.elf", "the hv_model firmware", out, outlen);
}

int machine_find_root_kernel(char *out, size_t outlen)
{
	return find_built("HVSIM_ROOT_KERNEL", "partitions/root/root.elf", "the root partition kernel", out, outlen);
}

/* The built child kernels are partitions/child/NAME.elf in the build
 * tree, or firmware/NAME.elf where `meson install` puts them; the
 * directory HVSIM_CHILD_KERNEL_DIR overrides both. */
int machine_find_child_kernel(const char *name, char *out, size_t outlen)
{
	const char *dir = getenv("HVSIM_CHILD_KERNEL_DIR");
	char cands[2][4096];
	size_t n = 0;

	if (!name || !*name || strchr(name, '/')) {
		diag_error("'%s' is not the name of a built child kernel", name ? name : "");
		return -EINVAL;
	}
	if (dir && *dir) {
		snprintf(cands[n++], sizeof(cands[0]), "%s/%s.elf", dir, name);
	} else {
		snprintf(cands[n++], sizeof(cands[0]), "%s/partitions/child/%s.elf", HVSIM_BUILD_DATADIR, name);
		snprintf(cands[n++], sizeof(cands[0]), "%s/firmware/%s.elf", HVSIM_DATADIR, name);
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(out, outlen, "%s", cands[i]);
		if (file_exists(out))
			return 0;
	}
	if (n == 1)
		diag_error("the %s child kernel was not found (looked for %s, as HVSIM_CHILD_KERNEL_DIR says)",
			   name, cands[0]);
	else
		diag_error("the %s child kernel was not found (looked for %s and %s; build it, or set HVSIM_CHILD_KERNEL_DIR)",
			   name, cands[0], cands[1]);
	return -ENOENT;
}

void machine_note_end(struct machine *m, enum machine_end kind, const char *fmt, ...)
{
	va_list ap;

	if (m->end != MACHINE_END_NONE)
		return;	/* the first reason wins */
	m->end = kind;
	va_start(ap, fmt);
	vsnprintf(m->end_text, sizeof(m->end_text), fmt, ap);
	va_end(ap);
	m->stopping = 1;
	for (unsigned i = 0; i < m->nlps; i++)
		if (m->lps[i])
			cpu_request_stop(m->lps[i]);
}

static void on_debug_exit(void *opaque, uint32_t v)
{
	struct machine *m = opaque;

	if (m->end != MACHINE_END_NONE)
		return;
	m->exit_value = v;
	machine_note_end(m, MACHINE_END_DEBUG_EXIT, "guest wrote %u to the debug-exit port", v);
}

/* The profile's costs for guests that predict RDTSC deltas
 * (include/hv/costs.h). */
static int publish_costs(struct machine *m)
{
	uint8_t buf[4 + 4 * COST_NCLASSES + 8];
	uint32_t n = COST_NCLASSES;

	memcpy(buf, &n, 4);
	memcpy(buf + 4, m->prof->cost, 4 * COST_NCLASSES);
	memcpy(buf + 4 + 4 * COST_NCLASSES, &m->prof->freq_khz, 8);
	if (fwcfg_add_file(m->fwcfg, HV_FWCFG_COSTS_FILE, buf, sizeof(buf)) < 0)
		return -EINVAL;
	return fwcfg_add_file(m->fwcfg, HV_FWCFG_APIC_TIMER_FILE, &m->prof->apic_timer_khz, 8) < 0 ? -EINVAL : 0;
}

/* The trace's meta says what produced it; nothing host-dependent
 * (traces/FORMAT.md "Meta"). */
static int open_trace(struct machine *m, const char *path)
{
	char meta[256], err[512];

	snprintf(meta, sizeof(meta), "simulator=hvsim %s\nprofile=%s\nfrequency_khz=%llu\nlps=%u\n", HVSIM_VERSION,
		 m->prof->name, (unsigned long long)m->prof->freq_khz, m->nlps);
	m->trace = trace_writer_open(path, meta, err, sizeof(err));
	if (!m->trace) {
		diag_error("%s", err);
		return -EIO;
	}
	return 0;
}

int machine_new(const struct machine_opts *o, struct machine **out)
{
	struct machine *m;
	char path[PATH_MAX];
	int rc;

	*out = NULL;
	if (o->lps < 1 || o->lps > 64) {
		diag_error("the number of LPs must be 1..64 (got %u)", o->lps);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->o = *o;
	m->nlps = o->lps;
	if (!m->o.quantum_cycles)
		m->o.quantum_cycles = 1000;

	rc = machine_find_profile(o->profile, path, sizeof(path));
	if (rc || (rc = profile_load(path, &m->prof)))
		goto fail;
	rc = -ENOMEM;
	m->mem = memmap_new(o->ram);
	if (!m->mem) {
		diag_error("cannot provide %llu bytes of RAM (a multiple of 4 KiB, at least 1 MiB)",
			   (unsigned long long)o->ram);
		rc = -EINVAL;
		goto fail;
	}
	m->clk = sc_kernel_clock();
	if ((rc = build_apics(m)))
		goto fail;
	rc = -ENOMEM;
	m->uart = uart_new(m->mem, UART_COM1_BASE, isa_irq(m, IRQ_COM1), o->console);
	m->dbg = debugexit_new(m->mem, DEBUGEXIT_PORT, on_debug_exit, m);
	m->fwcfg = fwcfg_new(m->mem, o->ram, o->lps);
	m->pci = pci_new(m->mem);
	m->pmt = pmtimer_new(m->mem, PMTIMER_PORT, m->clk);
	if (!m->uart || !m->dbg || !m->fwcfg || !m->pci || !m->pmt)
		goto fail;
	{
		struct edu_config ec = {
			.mem = m->mem, .pci = m->pci, .dev = PCI_EDU_DEV, .bar0 = PCI_EDU_BAR0,
			.intx_line = PCI_EDU_GSI, .clk = m->clk, .intx = { pci_intx_set, m, PCI_EDU_GSI },
		};

		pci_set_msi_sink(m->pci, pci_msi, m);
		m->edu = edu_new(&ec);
		if (!m->edu)
			goto fail;
	}
	if ((rc = publish_costs(m)))
		goto fail;
	{
		struct acpi_config ac = {
			.ncpus = o->lps,
			.ioapic_id = (uint8_t)(o->lps & 0xf),	/* a 4-bit register (82093AA 3.2.1) */
			.ioapic_addr = ACPI_IOAPIC_ADDR,
			.lapic_addr = ACPI_LAPIC_ADDR,
			.pm_timer_port = PMTIMER_PORT,
			.sci_irq = 9,
		};

		if ((rc = acpi_build(m->mem, &ac))) {
			diag_error("cannot build the ACPI tables (%s)", strerror(-rc));
			goto fail;
		}
	}

	if (o->boot == MACHINE_BOOT_MULTIBOOT) {
		rc = multiboot_boot(m->mem, &o->mb, &m->entry);
	} else {
		struct bootinfo_args fa = o->fw;

		fa.lp_count = o->lps;
		fa.tsc_khz = m->prof->freq_khz;
		fa.acpi_rsdp = ACPI_RSDP_ADDR;
		rc = bootinfo_boot(m->mem, &fa, &m->entry);
	}
	if (rc)
		goto fail;

	if (o->trace_path && (rc = open_trace(m, o->trace_path)))
		goto fail;

	rc = -ENOMEM;
	m->lps = calloc(m->nlps, sizeof(*m->lps));
	m->vflights = vflight_book_new();
	if (!m->lps || !m->vflights)
		goto fail;
	for (unsigned i = 0; i < m->nlps; i++) {
		struct cpu_config cc = {
			.index = i, .nlps = m->nlps, .profile = m->prof, .mem = m->mem, .bsp = i == 0,
			.trace = m->trace, .lapic = m->lapics[i], .vflights = m->vflights,
		};

		m->lps[i] = cpu_new(&cc);
		if (!m->lps[i]) {
			rc = -EIO;
			goto fail;
		}
	}
	if ((rc = cpu_boot(m->lps[0], &m->entry)))
		goto fail;
	*out = m;
	return 0;
fail:
	machine_free(m);
	return rc ? rc : -EINVAL;
}

int machine_close_trace(struct machine *m)
{
	int rc;

	if (!m->trace)
		return 0;
	rc = trace_writer_close(m->trace);
	m->trace = NULL;
	if (rc)
		diag_error("%s: cannot write the trace (%s)", m->o.trace_path, strerror(-rc));
	return rc;
}

void machine_free(struct machine *m)
{
	if (!m)
		return;
	for (unsigned i = 0; m->lps && i < m->nlps; i++)
		cpu_free(m->lps[i]);
	free(m->lps);
	vflight_book_free(m->vflights);
	irqtest_free(m->irqtest);
	pit_free(m->pit);
	pic_free(m->pic);
	ioapic_free(m->ioapic);
	for (unsigned i = 0; m->lapics && i < m->nlps; i++)
		lapic_free(m->lapics[i]);
	free(m->lapics);
	free(m->slots);
	apic_bus_free(m->bus);
	pmtimer_free(m->pmt);
	edu_free(m->edu);
	pci_free(m->pci);
	fwcfg_free(m->fwcfg);
	debugexit_free(m->dbg);
	uart_free(m->uart);
	memmap_free(m->mem);
	profile_free(m->prof);
	if (m->trace)
		trace_writer_close(m->trace);
	free(m);
}

int machine_run(struct machine *m)
{
	return sc_kernel_run(m);
}

enum machine_end machine_end_kind(const struct machine *m)
{
	return m->end;
}

const char *machine_end_text(const struct machine *m)
{
	return m->end_text;
}

uint32_t machine_exit_value(const struct machine *m)
{
	return m->exit_value;
}

const char *machine_uart_output(const struct machine *m, size_t *len)
{
	return uart_output(m->uart, len);
}

unsigned machine_lp_count(const struct machine *m)
{
	return m->nlps;
}

struct cpu *machine_lp(const struct machine *m, unsigned i)
{
	return i < m->nlps ? m->lps[i] : NULL;
}

int machine_stopping(const struct machine *m)
{
	return m->stopping;
}

uint64_t machine_khz(const struct machine *m)
{
	return m->prof->freq_khz;
}

uint64_t machine_quantum(const struct machine *m)
{
	return m->o.quantum_cycles;
}

uint64_t machine_max_cycles(const struct machine *m)
{
	return m->o.max_cycles;
}

const char *machine_profile_name(const struct machine *m)
{
	return m->prof->name;
}

uint64_t machine_ram(const struct machine *m)
{
	return m->o.ram;
}
