// OpenBLAS's CBLAS interface (Debian: libopenblas-dev installs it under
// /usr/include/x86_64-linux-gnu, which is on the default include path).
#include <cblas.h>
// Thread control exported by OpenBLAS itself.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
