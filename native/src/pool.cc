// Max pooling and its gradient (NHWC), vectorised over channels, parallel over images/rows.
#include <algorithm>
#include <limits>
#include <vector>

#include "isa.h"

namespace fim {
namespace FIM_ISA {

void max_pool(const PoolDims& d, const float* x, float* y) {
  const long rows = static_cast<long>(d.B) * d.OH;
#pragma omp parallel for schedule(dynamic, 8)
  for (long r = 0; r < rows; r++) {
    const int b = static_cast<int>(r / d.OH), oy = static_cast<int>(r % d.OH);
    for (int ox = 0; ox < d.OW; ox++) {
      float* out = y + ((static_cast<long>(b) * d.OH + oy) * d.OW + ox) * d.C;
      for (int c = 0; c < d.C; c++) out[c] = -std::numeric_limits<float>::infinity();
      for (int fh = 0; fh < d.FH; fh++) {
        const int iy = oy * d.sh + fh * d.dh - d.pt;
        if (iy < 0 || iy >= d.IH) continue;
        for (int fw = 0; fw < d.FW; fw++) {
          const int ix = ox * d.sw + fw * d.dw - d.pl;
          if (ix < 0 || ix >= d.IW) continue;
          const float* in = x + ((static_cast<long>(b) * d.IH + iy) * d.IW + ix) * d.C;
          for (int c = 0; c < d.C; c++) out[c] = in[c] > out[c] ? in[c] : out[c];
        }
      }
    }
  }
}

void max_pool_grad(const PoolDims& d, const float* x, const float* dy, float* dx) {
  const long imageSize = static_cast<long>(d.IH) * d.IW * d.C;
  // Images are independent (each writes only its own dx), so they run in parallel; windows of
  // one image may overlap and accumulate.
#pragma omp parallel
  {
    std::vector<float> best(d.C);
    std::vector<int> where(d.C);
#pragma omp for schedule(dynamic, 1)
    for (int b = 0; b < d.B; b++) {
      float* dxb = dx + b * imageSize;
      std::fill(dxb, dxb + imageSize, 0.0f);
      const float* xb = x + b * imageSize;
      for (int oy = 0; oy < d.OH; oy++)
        for (int ox = 0; ox < d.OW; ox++) {
          for (int c = 0; c < d.C; c++) {
            best[c] = -std::numeric_limits<float>::infinity();
            where[c] = -1;
          }
          for (int fh = 0; fh < d.FH; fh++) {
            const int iy = oy * d.sh + fh * d.dh - d.pt;
            if (iy < 0 || iy >= d.IH) continue;
            for (int fw = 0; fw < d.FW; fw++) {
              const int ix = ox * d.sw + fw * d.dw - d.pl;
              if (ix < 0 || ix >= d.IW) continue;
              const int pix = iy * d.IW + ix;
              const float* in = xb + static_cast<long>(pix) * d.C;
              // Strictly greater: the first maximal element in row-major window order wins ties.
              for (int c = 0; c < d.C; c++) {
                const bool gt = in[c] > best[c];
                best[c] = gt ? in[c] : best[c];
                where[c] = gt ? pix : where[c];
              }
            }
          }
          const float* g = dy + ((static_cast<long>(b) * d.OH + oy) * d.OW + ox) * d.C;
          for (int c = 0; c < d.C; c++)
            if (where[c] >= 0) dxb[static_cast<long>(where[c]) * d.C + c] += g[c];
        }
    }
  }
}

}  // namespace FIM_ISA
}  // namespace fim
