#include <criterion/criterion.h>
#include <errno.h>

#include "dev.h"
#include "memmap.h"

static struct memmap *m;
static struct pci *p;

static void setup(void)
{
	m = memmap_new(1 << 20);
	cr_assert_not_null(m);
	p = pci_new(m);
	cr_assert_not_null(p);
}

static void teardown(void)
{
	pci_free(p);
	memmap_free(m);
}

static uint32_t cfg_addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xFC);
}

static uint32_t cfg_read(unsigned bus, unsigned dev, unsigned fn, unsigned reg, unsigned size)
{
	memmap_port_out(m, PCI_CONFIG_ADDRESS, cfg_addr(bus, dev, fn, reg), 4);
	return memmap_port_in(m, PCI_CONFIG_DATA + (reg & 3), size);
}

static void cfg_write(unsigned bus, unsigned dev, unsigned fn, unsigned reg, uint32_t v,
		      unsigned size)
{
	memmap_port_out(m, PCI_CONFIG_ADDRESS, cfg_addr(bus, dev, fn, reg), 4);
	memmap_port_out(m, PCI_CONFIG_DATA + (reg & 3), v, size);
}

TestSuite(pci, .init = setup, .fini = teardown);

Test(pci, host_bridge_reports_i440fx_ids)
{
	cr_assert_eq(cfg_read(0, 0, 0, 0x00, 4), 0x12378086);
	cr_assert_eq(cfg_read(0, 0, 0, 0x00, 2), PCI_HOST_BRIDGE_VENDOR);
	cr_assert_eq(cfg_read(0, 0, 0, 0x02, 2), PCI_HOST_BRIDGE_DEVICE);
}

Test(pci, host_bridge_class_revision_and_header_type)
{
	cr_assert_eq(cfg_read(0, 0, 0, 0x08, 4), 0x06000002, "class 06/00/00, revision 2");
	cr_assert_eq(cfg_read(0, 0, 0, 0x0E, 1), 0x00, "type 0, single function");
}

Test(pci, byte_and_word_access_at_data_port_offsets)
{
	memmap_port_out(m, PCI_CONFIG_ADDRESS, cfg_addr(0, 0, 0, 0), 4);
	cr_assert_eq(memmap_port_in(m, 0xCFC, 1), 0x86);
	cr_assert_eq(memmap_port_in(m, 0xCFD, 1), 0x80);
	cr_assert_eq(memmap_port_in(m, 0xCFE, 2), 0x1237);
	cr_assert_eq(memmap_port_in(m, 0xCFF, 1), 0x12);
	cr_assert_eq(memmap_port_in(m, 0xCFD, 2), 0x3780, "unaligned word inside the dword");
}

Test(pci, absent_device_reads_all_ones)
{
	cr_assert_eq(cfg_read(0, 1, 0, 0x00, 4), 0xFFFFFFFF);
	cr_assert_eq(cfg_read(0, 1, 0, 0x00, 2), 0xFFFF);
	cr_assert_eq(cfg_read(0, 1, 0, 0x00, 1), 0xFF);
	cr_assert_eq(cfg_read(0, 0, 1, 0x00, 4), 0xFFFFFFFF, "function 1 of the bridge");
	cr_assert_eq(cfg_read(1, 0, 0, 0x00, 4), 0xFFFFFFFF, "bus 1");
}

Test(pci, disabled_address_reads_all_ones)
{
	memmap_port_out(m, PCI_CONFIG_ADDRESS, 0x00000000, 4);
	cr_assert_eq(memmap_port_in(m, PCI_CONFIG_DATA, 4), 0xFFFFFFFF);
	cr_assert_eq(memmap_port_in(m, PCI_CONFIG_DATA + 2, 2), 0xFFFF);
}

Test(pci, disabled_address_writes_are_dropped)
{
	memmap_port_out(m, PCI_CONFIG_ADDRESS, 0x00000004, 4);
	memmap_port_out(m, PCI_CONFIG_DATA, 0x0000, 2);
	cr_assert_eq(cfg_read(0, 0, 0, 0x04, 2), 0x0006);
}

Test(pci, config_address_reads_back_without_reserved_bits)
{
	memmap_port_out(m, PCI_CONFIG_ADDRESS, 0xFFFFFFFF, 4);
	cr_assert_eq(memmap_port_in(m, PCI_CONFIG_ADDRESS, 4), 0x80FFFFFC);
	memmap_port_out(m, PCI_CONFIG_ADDRESS, 0x80000000, 4);
	cr_assert_eq(memmap_port_in(m, PCI_CONFIG_ADDRESS, 4), 0x80000000);
}

Test(pci, non_dword_access_to_config_address_is_ignored)
{
	memmap_port_out(m, PCI_CONFIG_ADDRESS, 0x80000000, 4);
	memmap_port_out(m, 0xCFB, 0x01, 1);
	memmap_port_out(m, 0xCF8, 0x0004, 2);
	cr_assert_eq(memmap_port_in(m, PCI_CONFIG_ADDRESS, 4), 0x80000000);
	cr_assert_eq(memmap_port_in(m, 0xCF9, 1), 0xFF);
}

Test(pci, command_register_keeps_only_writable_bits)
{
	cr_assert_eq(cfg_read(0, 0, 0, 0x04, 2), 0x0006, "memory + bus master at reset");
	cfg_write(0, 0, 0, 0x04, 0xFFFF, 2);
	cr_assert_eq(cfg_read(0, 0, 0, 0x04, 2), 0x0146);
	cfg_write(0, 0, 0, 0x04, 0x0000, 2);
	cr_assert_eq(cfg_read(0, 0, 0, 0x04, 2), 0x0000);
	cfg_write(0, 0, 0, 0x05, 0x01, 1);
	cr_assert_eq(cfg_read(0, 0, 0, 0x04, 2), 0x0100, "byte write to the high half");
}

Test(pci, identity_registers_are_read_only)
{
	cfg_write(0, 0, 0, 0x00, 0xFFFFFFFF, 4);
	cfg_write(0, 0, 0, 0x08, 0xFFFFFFFF, 4);
	cfg_write(0, 0, 0, 0x40, 0x12345678, 4);
	cr_assert_eq(cfg_read(0, 0, 0, 0x00, 4), 0x12378086);
	cr_assert_eq(cfg_read(0, 0, 0, 0x08, 4), 0x06000002);
	cr_assert_eq(cfg_read(0, 0, 0, 0x40, 4), 0);
}

Test(pci, status_write_to_upper_half_of_command_dword_is_ignored)
{
	uint32_t before = cfg_read(0, 0, 0, 0x06, 2);

	cfg_write(0, 0, 0, 0x04, 0xFFFF0000, 4);
	cr_assert_eq(cfg_read(0, 0, 0, 0x06, 2), before);
	cr_assert_eq(cfg_read(0, 0, 0, 0x04, 2), 0x0000, "low half written as 0");
}

Test(pci, registered_function_answers_with_its_writable_mask)
{
	struct pci_function f = { 0 };

	pci_config_init(&f, 0x1234, 0x5678, 1, 0x020000);
	pci_bar_mem32(&f, 0, 0x1000, 0xFE000000);
	cr_assert_eq(pci_register(p, 2, 0, &f), 0);
	cr_assert_eq(pci_register(p, 2, 0, &f), -EBUSY);
	cr_assert_eq(pci_register(p, 32, 0, &f), -EINVAL);
	cr_assert_eq(pci_register(p, 0, 8, &f), -EINVAL);
	cr_assert_eq(cfg_read(0, 2, 0, 0x00, 4), 0x56781234);
	cr_assert_eq(cfg_read(0, 2, 0, 0x08, 4), 0x02000001);
	cfg_write(0, 2, 0, 0x10, 0xFFFFFFFF, 4);
	cr_assert_eq(cfg_read(0, 2, 0, 0x10, 4), 0xFFFFF000, "4 KiB BAR");
	cfg_write(0, 2, 0, 0x00, 0xFFFFFFFF, 4);
	cr_assert_eq(cfg_read(0, 2, 0, 0x00, 4), 0x56781234, "IDs are read-only");
	cr_assert_eq(pci_bar_decoded(&f, 0), PCI_BAR_NONE, "memory decode off");
	cfg_write(0, 2, 0, 0x10, 0xFE001000, 4);
	f.wmask[PCI_COMMAND] = PCI_COMMAND_MEMORY;
	cfg_write(0, 2, 0, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	cr_assert_eq(pci_bar_decoded(&f, 0), 0xFE001000);
	pci_unregister(p, &f);
	cr_assert_eq(cfg_read(0, 2, 0, 0x00, 4), 0xFFFFFFFF);
	cr_assert_eq(cfg_read(0, 0, 0, 0x00, 4), 0x12378086, "the host bridge stays");
}
