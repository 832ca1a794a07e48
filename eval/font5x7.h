// eval/font5x7.h — a tiny built-in bitmap font for plot text: printable ASCII, 5×7 pixels per
// glyph, drawn one cell of 6×8 pixels apart (a column and a row of spacing). Scaled by
// repeating pixels, never smoothed. Left out: anything beyond ASCII, proportional spacing.
#pragma once
#include <cstdint>

namespace margin {

inline constexpr int kGlyphWidth = 5, kGlyphHeight = 7;
inline constexpr int kGlyphAdvance = 6, kLineHeight = 8;  // the cell, spacing included

// Seven rows, top to bottom; bit 4 (0x10) is the leftmost pixel. Unknown characters get a box.
const uint8_t* glyph_rows(char character);

}  // namespace margin
