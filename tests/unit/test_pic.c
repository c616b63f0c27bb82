#include <criterion/criterion.h>

#include "dev.h"
#include "memmap.h"

static struct memmap *m;
static struct pic *p;
static int intr_level, intr_changes;

static void intr(void *opaque, int level)
{
	cr_assert_eq(opaque, &intr_level);
	intr_level = level;
	intr_changes++;
}

static void setup(void)
{
	intr_level = 0;
	intr_changes = 0;
	m = memmap_new(1 << 20);
	cr_assert_not_null(m);
	p = pic_new(m, intr, &intr_level);
	cr_assert_not_null(p);
}

static void teardown(void)
{
	pic_free(p);
	memmap_free(m);
}

static void out(uint16_t port, uint8_t v)
{
	memmap_port_out(m, port, v, 1);
}

static uint8_t in(uint16_t port)
{
	return (uint8_t)memmap_port_in(m, port, 1);
}

/* The PC initialisation: edge, cascade, ICW4; master vectors 0x20-0x27 on
 * IR2 carrying the slave, slave vectors 0x28-0x2F with ID 2; 8086 mode;
 * nothing masked. */
static void init_pc(uint8_t icw4)
{
	out(0x20, 0x11);
	out(0x21, 0x20);
	out(0x21, 0x04);
	out(0x21, icw4);
	out(0xA0, 0x11);
	out(0xA1, 0x28);
	out(0xA1, 0x02);
	out(0xA1, icw4);
	out(0x21, 0x00);
	out(0xA1, 0x00);
}

static uint8_t read_isr(uint16_t cmd)
{
	out(cmd, 0x0B);
	return in(cmd);
}

static uint8_t read_irr(uint16_t cmd)
{
	out(cmd, 0x0A);
	return in(cmd);
}

TestSuite(pic, .init = setup, .fini = teardown);

Test(pic, all_masked_before_initialisation)
{
	pic_set_irq(p, 1, 1);
	cr_assert_eq(intr_level, 0);
	cr_assert_eq(in(0x21), 0xFF);
	cr_assert_eq(in(0xA1), 0xFF);
}

Test(pic, init_sequence_programs_vector_base)
{
	init_pc(0x01);
	cr_assert_eq(in(0x21), 0x00, "OCW1 after the ICWs is the mask");
	pic_set_irq(p, 1, 1);
	cr_assert_eq(intr_level, 1);
	cr_assert_eq(pic_intr_irq(p), 1);
	cr_assert_eq(pic_ack(p), 0x21);
	cr_assert_eq(intr_level, 0);
	cr_assert_eq(read_isr(0x20), 0x02);
	cr_assert_eq(read_irr(0x20), 0x00);
}

Test(pic, icw1_clears_mask_and_in_service)
{
	init_pc(0x01);
	out(0x21, 0xA0);
	pic_set_irq(p, 3, 1);
	pic_ack(p);
	out(0x20, 0x11);
	out(0x21, 0x40);
	out(0x21, 0x04);
	out(0x21, 0x01);
	cr_assert_eq(in(0x21), 0x00);
	cr_assert_eq(read_isr(0x20), 0x00);
	cr_assert_eq(read_irr(0x20), 0x00, "edge sense reset: a held line does not request");
	cr_assert_eq(intr_level, 0);
	pic_set_irq(p, 3, 0);
	pic_set_irq(p, 3, 1);
	cr_assert_eq(pic_ack(p), 0x43, "new vector base");
}

Test(pic, single_mode_without_icw3)
{
	out(0x20, 0x13);	/* SNGL, IC4 */
	out(0x21, 0x50);
	out(0x21, 0x01);	/* ICW4, not ICW3 */
	out(0x21, 0xFE);	/* OCW1 */
	cr_assert_eq(in(0x21), 0xFE);
	pic_set_irq(p, 0, 1);
	cr_assert_eq(pic_ack(p), 0x50);
}

Test(pic, fixed_priority_and_nesting)
{
	init_pc(0x01);
	pic_set_irq(p, 5, 1);
	pic_set_irq(p, 3, 1);
	cr_assert_eq(pic_ack(p), 0x23, "IR3 outranks IR5");
	cr_assert_eq(intr_level, 0, "IR5 is below IR3 in service");
	pic_set_irq(p, 0, 1);
	cr_assert_eq(intr_level, 1, "IR0 outranks IR3 in service");
	cr_assert_eq(pic_ack(p), 0x20);
	cr_assert_eq(read_isr(0x20), 0x09);
	out(0x20, 0x20);	/* non-specific EOI: highest in service, IR0 */
	cr_assert_eq(read_isr(0x20), 0x08);
	cr_assert_eq(intr_level, 0);
	out(0x20, 0x20);
	cr_assert_eq(intr_level, 1);
	cr_assert_eq(pic_ack(p), 0x25);
}

Test(pic, specific_eoi_clears_the_named_level)
{
	init_pc(0x01);
	pic_set_irq(p, 6, 1);
	pic_ack(p);
	pic_set_irq(p, 1, 1);
	pic_ack(p);
	cr_assert_eq(read_isr(0x20), 0x42);
	out(0x20, 0x66);	/* specific EOI, level 6 */
	cr_assert_eq(read_isr(0x20), 0x02);
}

Test(pic, rotate_on_non_specific_eoi_makes_served_level_lowest)
{
	init_pc(0x01);
	pic_set_irq(p, 1, 1);
	cr_assert_eq(pic_ack(p), 0x21);
	out(0x20, 0xA0);	/* rotate on non-specific EOI */
	pic_set_irq(p, 1, 0);
	pic_set_irq(p, 1, 1);
	pic_set_irq(p, 4, 1);
	cr_assert_eq(pic_ack(p), 0x24, "IR1 is now the lowest priority");
}

Test(pic, set_priority_command)
{
	init_pc(0x01);
	out(0x20, 0xC4);	/* IR4 lowest: IR5 highest */
	pic_set_irq(p, 0, 1);
	pic_set_irq(p, 6, 1);
	cr_assert_eq(pic_ack(p), 0x26);
	pic_set_irq(p, 5, 1);
	cr_assert_eq(intr_level, 1, "IR5 outranks IR6 in service");
}

Test(pic, auto_eoi_leaves_nothing_in_service)
{
	init_pc(0x03);
	pic_set_irq(p, 4, 1);
	cr_assert_eq(pic_ack(p), 0x24);
	cr_assert_eq(read_isr(0x20), 0x00);
	pic_set_irq(p, 5, 1);
	cr_assert_eq(intr_level, 1, "no in-service level blocks IR5");
}

Test(pic, spurious_irq7_when_request_withdrawn)
{
	init_pc(0x01);
	pic_set_irq(p, 4, 1);
	cr_assert_eq(intr_level, 1);
	pic_set_irq(p, 4, 0);
	cr_assert_eq(intr_level, 1, "INT stays up until INTA");
	cr_assert_eq(pic_ack(p), 0x27);
	cr_assert_eq(read_isr(0x20), 0x00, "default IR7 is not put in service");
	cr_assert_eq(intr_level, 0);
}

Test(pic, spurious_irq15_sets_master_ir2_in_service)
{
	init_pc(0x01);
	pic_set_irq(p, 10, 1);
	cr_assert_eq(intr_level, 1);
	pic_set_irq(p, 10, 0);
	cr_assert_eq(pic_ack(p), 0x2F);
	cr_assert_eq(read_isr(0xA0), 0x00);
	cr_assert_eq(read_isr(0x20), 0x04, "master's cascade input in service");
}

Test(pic, cascade_delivers_slave_vector)
{
	init_pc(0x01);
	pic_set_irq(p, 12, 1);
	cr_assert_eq(intr_level, 1);
	cr_assert_eq(pic_intr_irq(p), 12);
	cr_assert_eq(pic_ack(p), 0x2C);
	cr_assert_eq(read_isr(0xA0), 0x10);
	cr_assert_eq(read_isr(0x20), 0x04);
	pic_set_irq(p, 12, 0);
	pic_set_irq(p, 9, 1);
	cr_assert_eq(intr_level, 0, "IR2 still in service on the master");
	out(0xA0, 0x20);
	cr_assert_eq(intr_level, 0);
	out(0x20, 0x20);
	cr_assert_eq(intr_level, 1);
	cr_assert_eq(pic_ack(p), 0x29);
	pic_set_irq(p, 2, 1);
	cr_assert_eq(read_irr(0x20) & 0x04, 0x00, "IRQ 2 is the cascade, not an input");
}

Test(pic, special_fully_nested_lets_the_slave_nest)
{
	init_pc(0x01);
	out(0x20, 0x11);
	out(0x21, 0x20);
	out(0x21, 0x04);
	out(0x21, 0x11);	/* master ICW4: SFNM, 8086 */
	out(0x21, 0x00);
	pic_set_irq(p, 12, 1);
	cr_assert_eq(pic_ack(p), 0x2C);
	pic_set_irq(p, 9, 1);
	cr_assert_eq(intr_level, 1, "a higher slave level passes the master's IR2 in service");
	cr_assert_eq(pic_ack(p), 0x29);
}

Test(pic, mask_blocks_and_unmask_releases)
{
	init_pc(0x01);
	out(0x21, 0x08);
	pic_set_irq(p, 3, 1);
	cr_assert_eq(intr_level, 0);
	cr_assert_eq(read_irr(0x20), 0x08, "the request is still in IRR");
	out(0x21, 0x00);
	cr_assert_eq(intr_level, 1);
	cr_assert_eq(pic_ack(p), 0x23);
}

Test(pic, special_mask_mode_enables_lower_levels)
{
	init_pc(0x01);
	pic_set_irq(p, 3, 1);
	pic_ack(p);
	pic_set_irq(p, 6, 1);
	cr_assert_eq(intr_level, 0);
	out(0x21, 0x08);	/* mask IR3, in service */
	out(0x20, 0x68);	/* OCW3: ESMM, SMM */
	cr_assert_eq(intr_level, 1);
	cr_assert_eq(pic_ack(p), 0x26);
	out(0x20, 0x48);	/* OCW3: ESMM, clear SMM */
	pic_set_irq(p, 5, 1);
	cr_assert_eq(intr_level, 0, "fully nested again: IR3 in service blocks IR5");
}

Test(pic, edge_needs_a_new_rising_edge)
{
	init_pc(0x01);
	pic_set_irq(p, 3, 1);
	cr_assert_eq(pic_ack(p), 0x23);
	out(0x20, 0x20);
	cr_assert_eq(intr_level, 0, "line still high: no new request");
	pic_set_irq(p, 3, 0);
	pic_set_irq(p, 3, 1);
	cr_assert_eq(intr_level, 1);
}

Test(pic, elcr_level_requests_again_after_eoi)
{
	init_pc(0x01);
	out(0x4D0, 0xFF);
	out(0x4D1, 0xFF);
	cr_assert_eq(in(0x4D0), 0xF8, "IRQ 0-2 are edge only");
	cr_assert_eq(in(0x4D1), 0xDE, "IRQ 8 and 13 are edge only");
	cr_assert_eq(memmap_port_in(m, 0x4D0, 2), 0xDEF8);
	pic_set_irq(p, 5, 1);
	cr_assert_eq(pic_ack(p), 0x25);
	out(0x20, 0x20);
	cr_assert_eq(intr_level, 1, "level still high: requests again");
	cr_assert_eq(pic_ack(p), 0x25);
	pic_set_irq(p, 5, 0);
	out(0x20, 0x20);
	cr_assert_eq(intr_level, 0);
}

Test(pic, poll_acknowledges_and_reports_level)
{
	init_pc(0x01);
	out(0x20, 0x0C);	/* OCW3: poll */
	cr_assert_eq(in(0x20), 0x00, "nothing pending");
	pic_set_irq(p, 6, 1);
	out(0x20, 0x0C);
	cr_assert_eq(in(0x20), 0x86);
	cr_assert_eq(read_isr(0x20), 0x40);
	cr_assert_eq(intr_level, 0);
	cr_assert_eq(read_irr(0x20), 0x00, "poll mode ends after one read");
}

Test(pic, intr_callback_reports_changes_only)
{
	init_pc(0x01);
	pic_set_irq(p, 3, 1);
	pic_set_irq(p, 4, 1);
	cr_assert_eq(intr_changes, 1);
	pic_ack(p);
	cr_assert_eq(intr_changes, 2, "INTA ends INT; IR4 is below IR3 in service");
	cr_assert_eq(intr_level, 0);
	out(0x20, 0x20);
	cr_assert_eq(intr_changes, 3);
	cr_assert_eq(intr_level, 1);
}
