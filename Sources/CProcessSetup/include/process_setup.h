#ifndef VOLLEY_PROCESS_SETUP_H
#define VOLLEY_PROCESS_SETUP_H

/// Referenced from Swift so the linker keeps the object whose constructor prepares the
/// process (see process_setup.c). Calling it does nothing more.
void volley_process_setup(void);

#endif
