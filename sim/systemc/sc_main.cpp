// libsystemc.so references sc_main, but hvsim's own main() elaborates and
// starts the simulation (sc_kernel.cpp), so SystemC never calls this.
extern "C" int sc_main(int, char **) { return 1; }
