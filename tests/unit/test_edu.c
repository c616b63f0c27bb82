/* The edu PCI device (sim/dev/edu.c) and the bus's MSI capability
 * (sim/dev/pci.c), through configuration mechanism #1 and the memory map,
 * with a plain event clock. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "dev.h"
#include "memmap.h"

#define DEV 3
#define BAR 0xFEA00000u
#define GSI 23
#define MSI_ADDR 0xFEE00000u
#define CAP EDU_MSI_CAP

struct msi_rec {
	uint64_t addr, assert_ps;
	uint32_t data;
	unsigned devfn;
};

static struct memmap *m;
static struct pci *p;
static struct edu *e;
static struct sim_clock *clk;
static int intx, intx_changes;
static unsigned nmsi;
static struct msi_rec msi[8];

static void on_intx(void *opaque, unsigned n, int level)
{
	cr_assert_eq(n, GSI);
	intx = level;
	intx_changes++;
}

static void on_msi(void *opaque, uint64_t addr, uint32_t data, uint64_t assert_ps, unsigned devfn)
{
	if (nmsi < 8)
		msi[nmsi] = (struct msi_rec){ addr, assert_ps, data, devfn };
	nmsi++;
}

static void setup(void)
{
	struct edu_config c = { .dev = DEV, .bar0 = BAR, .intx_line = GSI, .intx = { on_intx, NULL, GSI } };

	intx = intx_changes = 0;
	nmsi = 0;
	m = memmap_new(1 << 20);
	p = pci_new(m);
	clk = sim_clock_simple_new();
	cr_assert(m && p && clk);
	pci_set_msi_sink(p, on_msi, NULL);
	c.mem = m;
	c.pci = p;
	c.clk = clk;
	e = edu_new(&c);
	cr_assert_not_null(e);
}

static void teardown(void)
{
	edu_free(e);
	sim_clock_simple_free(clk);
	pci_free(p);
	memmap_free(m);
}

static uint32_t cfg_addr(unsigned dev, unsigned reg)
{
	return 0x80000000u | dev << 11 | (reg & 0xFC);
}

static uint32_t cfg_read(unsigned reg, unsigned size)
{
	memmap_port_out(m, PCI_CONFIG_ADDRESS, cfg_addr(DEV, reg), 4);
	return memmap_port_in(m, PCI_CONFIG_DATA + (reg & 3), size);
}

static void cfg_write(unsigned reg, uint32_t v, unsigned size)
{
	memmap_port_out(m, PCI_CONFIG_ADDRESS, cfg_addr(DEV, reg), 4);
	memmap_port_out(m, PCI_CONFIG_DATA + (reg & 3), v, size);
}

static uint32_t rd(uint32_t off)
{
	return (uint32_t)memmap_mmio_read(m, BAR + off, 4);
}

static void wr(uint32_t off, uint32_t v)
{
	memmap_mmio_write(m, BAR + off, v, 4);
}

static void decode_on(void)
{
	cfg_write(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
}

static void msi_setup(uint32_t ctrl_extra)
{
	cfg_write(CAP + PCI_MSI_ADDR_LO, MSI_ADDR, 4);
	cfg_write(CAP + PCI_MSI_ADDR_HI, 0, 4);
	cfg_write(CAP + PCI_MSI_DATA, 0x4041, 2);
	cfg_write(CAP + PCI_MSI_CTRL, PCI_MSI_CTRL_ENABLE | ctrl_extra, 2);
}

TestSuite(edu, .init = setup, .fini = teardown);

Test(edu, header_ids_class_interrupt_pin_and_line)
{
	cr_assert_eq(cfg_read(0x00, 4), 0x11E81234);
	cr_assert_eq(cfg_read(0x08, 4), 0xFF000010, "class FF/00/00, revision 0x10");
	cr_assert_eq(cfg_read(PCI_HEADER_TYPE, 1), 0);
	cr_assert_eq(cfg_read(PCI_INTERRUPT_PIN, 1), 1, "INTA#");
	cr_assert_eq(cfg_read(PCI_INTERRUPT_LINE, 1), GSI);
	cr_assert_eq(cfg_read(PCI_COMMAND, 2), 0, "no decode, no mastering at reset");
	cr_assert_eq(cfg_read(PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
	cr_assert_eq(cfg_read(0x00, 4) , 0x11E81234);
	memmap_port_out(m, PCI_CONFIG_ADDRESS, cfg_addr(0, 0), 4);
	cr_assert_eq(memmap_port_in(m, PCI_CONFIG_DATA, 4), 0x12378086, "the host bridge is still 00:00.0");
	memmap_port_out(m, PCI_CONFIG_ADDRESS, cfg_addr(DEV, 0) | 1 << 8, 4);
	cr_assert_eq(memmap_port_in(m, PCI_CONFIG_DATA, 4), 0xFFFFFFFF, "function 1 is absent");
}

Test(edu, command_register_implements_memory_master_intx_disable)
{
	cfg_write(PCI_COMMAND, 0xFFFF, 2);
	cr_assert_eq(cfg_read(PCI_COMMAND, 2), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	cfg_write(PCI_STATUS, 0xFFFF, 2);
	cr_assert_eq(cfg_read(PCI_STATUS, 2), PCI_STATUS_CAP_LIST, "status is read-only");
}

Test(edu, msi_capability_layout)
{
	cr_assert_eq(cfg_read(PCI_CAP_PTR, 1), CAP);
	cr_assert_eq(cfg_read(CAP, 1), PCI_CAP_ID_MSI);
	cr_assert_eq(cfg_read(CAP + 1, 1), 0, "last capability");
	cr_assert_eq(cfg_read(CAP + PCI_MSI_CTRL, 2), PCI_MSI_CTRL_64BIT | PCI_MSI_CTRL_PVM,
		     "64-bit, per-vector masking, one vector, disabled");
	cfg_write(CAP + PCI_MSI_CTRL, 0xFFFF, 2);
	cr_assert_eq(cfg_read(CAP + PCI_MSI_CTRL, 2), 0x01F1, "enable and MME writable, capabilities not");
	cfg_write(CAP + PCI_MSI_ADDR_LO, 0xFFFFFFFF, 4);
	cr_assert_eq(cfg_read(CAP + PCI_MSI_ADDR_LO, 4), 0xFFFFFFFC, "dword aligned");
	cfg_write(CAP + PCI_MSI_DATA, 0xFFFFFFFF, 4);
	cr_assert_eq(cfg_read(CAP + PCI_MSI_DATA, 4), 0xFFFF, "16-bit data, upper half reserved");
	cfg_write(CAP + PCI_MSI_MASK, 0xFFFFFFFF, 4);
	cr_assert_eq(cfg_read(CAP + PCI_MSI_MASK, 4), 1, "one mask bit");
	cfg_write(CAP + PCI_MSI_PENDING, 0xFFFFFFFF, 4);
	cr_assert_eq(cfg_read(CAP + PCI_MSI_PENDING, 4), 0, "pending bits are read-only");
}

Test(edu, bar0_sizes_and_decodes_only_with_memory_enable)
{
	const uint64_t *gen = memmap_mmio_generation(m);
	uint64_t g0 = *gen;

	cr_assert_eq(cfg_read(PCI_BAR0, 4), BAR, "the platform's default, 32-bit memory, not prefetchable");
	cr_assert_eq(rd(EDU_REG_ID), 0xFFFFFFFF, "no decode at reset");
	cfg_write(PCI_BAR0, 0xFFFFFFFF, 4);
	cr_assert_eq(cfg_read(PCI_BAR0, 4), 0xFFF00000, "1 MiB");
	cfg_write(PCI_BAR0, 0xFE812345, 4);
	cr_assert_eq(cfg_read(PCI_BAR0, 4), 0xFE800000, "aligned to its size");
	cr_assert_eq(*gen, g0, "nothing decoded yet");
	decode_on();
	cr_assert_eq(*gen, g0 + 1);
	cr_assert_eq(memmap_mmio_read(m, 0xFE800000, 4), EDU_ID);
	cr_assert_eq(rd(EDU_REG_ID), 0xFFFFFFFF, "not at the old place");
	cfg_write(PCI_BAR0, BAR, 4);
	cr_assert_eq(rd(EDU_REG_ID), EDU_ID, "relocated while decoding");
	cr_assert_eq(memmap_mmio_read(m, 0xFE800000, 4), 0xFFFFFFFF);
	cfg_write(PCI_COMMAND, 0, 2);
	cr_assert_eq(rd(EDU_REG_ID), 0xFFFFFFFF, "decode off");
	cfg_write(PCI_BAR0, 0x00000000, 4);
	decode_on();
	cr_assert_eq(memmap_mmio_read(m, 0, 4), 0xFFFFFFFF, "over RAM: decodes nothing");
	cr_assert_null(memmap_find_mmio(m, 0));
}

Test(edu, identification_liveness_and_access_sizes)
{
	decode_on();
	cr_assert_eq(rd(EDU_REG_ID), 0x010000ED);
	wr(EDU_REG_ID, 0);
	cr_assert_eq(rd(EDU_REG_ID), 0x010000ED, "read-only");
	wr(EDU_REG_LIVENESS, 0x12345678);
	cr_assert_eq(rd(EDU_REG_LIVENESS), 0xEDCBA987);
	cr_assert_eq(memmap_mmio_read(m, BAR + EDU_REG_ID, 2), 0xFFFF, "dword accesses only");
	memmap_mmio_write(m, BAR + EDU_REG_LIVENESS, 0, 1);
	cr_assert_eq(rd(EDU_REG_LIVENESS), 0xEDCBA987);
	cr_assert_eq(rd(0x0C), 0xFFFFFFFF, "no register");
	cr_assert_eq(rd(0x80), 0, "DMA: not modelled");
	cr_assert_eq(rd(EDU_REG_IRQ_RAISE), 0xFFFFFFFF, "write-only");
}

Test(edu, factorial_completes_after_its_service_time)
{
	decode_on();
	sim_clock_simple_advance(clk, 1000);
	wr(EDU_REG_FACT, 5);
	cr_assert_eq(rd(EDU_REG_STATUS), EDU_STATUS_COMPUTING);
	cr_assert_eq(rd(EDU_REG_FACT), 5);
	wr(EDU_REG_FACT, 7);
	cr_assert_eq(rd(EDU_REG_FACT), 5, "ignored while computing");
	sim_clock_simple_advance(clk, 1000 + EDU_FACT_PS - 1);
	cr_assert_eq(rd(EDU_REG_STATUS), EDU_STATUS_COMPUTING, "not before EDU_FACT_PS");
	sim_clock_simple_advance(clk, 1000 + EDU_FACT_PS);
	cr_assert_eq(rd(EDU_REG_STATUS), 0);
	cr_assert_eq(rd(EDU_REG_FACT), 120);
	cr_assert_eq(intx_changes, 0, "no interrupt without status bit 7");
	wr(EDU_REG_FACT, 13);
	sim_clock_simple_advance(clk, 1000 + 2 * EDU_FACT_PS);
	cr_assert_eq(rd(EDU_REG_FACT), 1932053504u, "13! modulo 2^32");
	wr(EDU_REG_FACT, 0xFFFFFFFF);
	sim_clock_simple_advance(clk, 1000 + 3 * EDU_FACT_PS);
	cr_assert_eq(rd(EDU_REG_FACT), 0, "34 or more factors hold 2^32");
	wr(EDU_REG_FACT, 0);
	sim_clock_simple_advance(clk, 1000 + 4 * EDU_FACT_PS);
	cr_assert_eq(rd(EDU_REG_FACT), 1, "0! = 1");
}

Test(edu, status_bit7_is_the_only_writable_bit)
{
	decode_on();
	wr(EDU_REG_STATUS, 0xFFFFFFFF);
	cr_assert_eq(rd(EDU_REG_STATUS), EDU_STATUS_IRQFACT);
	wr(EDU_REG_STATUS, 0);
	cr_assert_eq(rd(EDU_REG_STATUS), 0);
}

Test(edu, intx_follows_interrupt_status_until_acknowledged)
{
	decode_on();
	wr(EDU_REG_IRQ_RAISE, 0x100);
	cr_assert_eq(intx, 1);
	cr_assert_eq(rd(EDU_REG_IRQ_STATUS), 0x100);
	cr_assert(cfg_read(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	wr(EDU_REG_IRQ_RAISE, 0x3);
	cr_assert_eq(rd(EDU_REG_IRQ_STATUS), 0x103, "ORed in");
	cr_assert_eq(intx_changes, 1, "still the one level");
	wr(EDU_REG_IRQ_ACK, 0x100);
	cr_assert_eq(intx, 1, "0x3 is still pending");
	wr(EDU_REG_IRQ_ACK, 0x3);
	cr_assert_eq(intx, 0);
	cr_assert_eq(rd(EDU_REG_IRQ_STATUS), 0);
	cr_assert_eq(cfg_read(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
	cr_assert_eq(nmsi, 0);
}

Test(edu, intx_disable_masks_the_pin_not_the_status_bit)
{
	decode_on();
	cfg_write(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE, 2);
	wr(EDU_REG_IRQ_RAISE, 1);
	cr_assert_eq(intx, 0);
	cr_assert(cfg_read(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, "PCI 3.0 6.2.3: status shows it");
	cfg_write(PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	cr_assert_eq(intx, 1, "asserted once enabled");
}

Test(edu, factorial_completion_raises_interrupt_1)
{
	decode_on();
	wr(EDU_REG_STATUS, EDU_STATUS_IRQFACT);
	wr(EDU_REG_FACT, 4);
	cr_assert_eq(intx, 0);
	sim_clock_simple_advance(clk, EDU_FACT_PS);
	cr_assert_eq(intx, 1);
	cr_assert_eq(rd(EDU_REG_IRQ_STATUS), EDU_IRQ_FACT);
	cr_assert_eq(rd(EDU_REG_FACT), 24);
}

Test(edu, msi_replaces_intx_and_carries_address_data_time)
{
	decode_on();
	wr(EDU_REG_IRQ_RAISE, 1);
	cr_assert_eq(intx, 1);
	msi_setup(0);
	cr_assert_eq(intx, 0, "INTA# is not used while MSI is enabled (PCI 3.0 6.8)");
	cr_assert_eq(cfg_read(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
	wr(EDU_REG_IRQ_ACK, 1);
	sim_clock_simple_advance(clk, 5000);
	wr(EDU_REG_IRQ_RAISE, 2);
	cr_assert_eq(nmsi, 1);
	cr_assert_eq(msi[0].addr, MSI_ADDR);
	cr_assert_eq(msi[0].data, 0x4041);
	cr_assert_eq(msi[0].assert_ps, 5000);
	cr_assert_eq(msi[0].devfn, DEV << 3);
	wr(EDU_REG_IRQ_RAISE, 4);
	cr_assert_eq(nmsi, 2, "one message per raise");
	cr_assert_eq(intx_changes, 2, "INTA# went up and down once, no more");
	cfg_write(CAP + PCI_MSI_ADDR_HI, 1, 4);
	wr(EDU_REG_IRQ_RAISE, 4);
	cr_assert_eq(msi[2].addr, 0x1FEE00000ull, "64-bit address");
	cfg_write(CAP + PCI_MSI_CTRL, 0, 2);
	cr_assert_eq(intx, 1, "MSI disabled: back to INTA#, status still 6");
	cr_assert_eq(nmsi, 3);
}

Test(edu, masked_msi_is_pending_until_unmasked)
{
	decode_on();
	msi_setup(0);
	cfg_write(CAP + PCI_MSI_MASK, 1, 4);
	sim_clock_simple_advance(clk, 7000);
	wr(EDU_REG_IRQ_RAISE, 1);
	cr_assert_eq(nmsi, 0);
	cr_assert_eq(intx, 0);
	cr_assert_eq(cfg_read(CAP + PCI_MSI_PENDING, 4), 1);
	sim_clock_simple_advance(clk, 9000);
	cfg_write(CAP + PCI_MSI_MASK, 0, 4);
	cr_assert_eq(nmsi, 1, "sent at unmask");
	cr_assert_eq(msi[0].assert_ps, 7000, "timed from the raise");
	cr_assert_eq(cfg_read(CAP + PCI_MSI_PENDING, 4), 0);
	cfg_write(CAP + PCI_MSI_MASK, 0, 4);
	cr_assert_eq(nmsi, 1, "once");
}

Test(edu, no_msi_without_bus_mastering)
{
	cfg_write(PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	msi_setup(0);
	wr(EDU_REG_IRQ_RAISE, 1);
	cr_assert_eq(nmsi, 0);
	cr_assert_eq(intx, 0);
	cfg_write(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	cr_assert_eq(nmsi, 0, "a message not sent is not queued");
}

Test(edu, second_device_in_the_same_slot_is_refused)
{
	struct edu_config c = { .mem = m, .pci = p, .dev = DEV, .bar0 = BAR, .clk = clk };

	cr_assert_null(edu_new(&c));
	cr_assert_eq(errno, EBUSY);
	cr_assert_eq(cfg_read(0x00, 4), 0x11E81234, "the first stays");
}
