// libsystemc.so references sc_main; Criterion owns main() in unit tests
// (UNICORN-NOTES.md section 7).
extern "C" int sc_main(int, char **) { return 0; }
