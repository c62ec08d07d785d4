"""The renderer on its own: exact pixel grids on 1, 2 and 4 blocks, overflow, the no-data glyph, the stale mark."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from display_node.render import layout, pixels, render


def grid(*rows: str) -> list[str]:
    return list(rows)


def test_42_on_two_blocks_uses_the_big_cp437_font_right_aligned() -> None:
    assert pixels(render(42, 16)) == grid(
        ".....###...####.",
        "....####..##..##",
        "...##.##......##",
        "..##..##....###.",
        "..#######..##...",
        "......##..##..##",
        ".....####.######",
        "................",
    )


def test_7_on_one_block() -> None:
    assert pixels(render(7, 8)) == grid(
        "..######",
        "..##..##",
        "......##",
        ".....##.",
        "....##..",
        "....##..",
        "....##..",
        "........",
    )


def test_two_digits_on_one_block_switch_to_a_narrow_font() -> None:
    assert layout(42, 8, 8).font == "SEG7"
    assert pixels(render(42, 8)) == grid(
        ".#.#.###",
        ".#.#...#",
        ".#.#...#",
        ".###.###",
        "...#.#..",
        "...#.#..",
        "...#.###",
        "........",
    )


def test_overflow_on_one_block_is_9_plus() -> None:
    assert layout(100, 8, 8).text == "9+"
    assert pixels(render(100, 8)) == grid(
        "........",
        ".###....",
        ".#.#..#.",
        ".###.###",
        "...#..#.",
        ".###....",
        "........",
        "........",
    )


def test_three_digits_on_two_blocks_and_overflow_to_999_plus() -> None:
    assert layout(123, 16, 8).text == "123"
    assert layout(1234, 16, 8).text == "1234"
    assert layout(12345, 16, 8).text == "999+"


def test_four_blocks_center_alignment() -> None:
    assert pixels(render(3, 32, align="center")) == grid(
        "..............####..............",
        ".............##..##.............",
        ".................##.............",
        "...............###..............",
        ".................##.............",
        ".............##..##.............",
        "..............####..............",
        "................................",
    )
    assert layout(99999, 32, 8).text == "99999"
    assert layout(123456789, 32, 8).text == "9999999+"


def test_no_data_glyph_is_centered_dashes_not_a_number() -> None:
    assert pixels(render(None, 16)) == grid(
        "................",
        "................",
        "................",
        ".######.######..",
        "................",
        "................",
        "................",
        "................",
    )
    assert layout(None, 8, 8).text == "-"


def test_stale_mark_is_one_extra_pixel_in_a_dark_corner() -> None:
    plain, marked = pixels(render(42, 16)), pixels(render(42, 16, stale_mark=True))
    diff = [(x, y) for y in range(8) for x in range(16) if plain[y][x] != marked[y][x]]
    assert diff == [(0, 7)]
    assert marked[7][0] == "#"


@given(value=st.one_of(st.none(), st.integers(min_value=0, max_value=10**12)), blocks=st.integers(1, 8))
def test_any_value_fits_is_never_cut_off_and_the_mark_never_hides_a_digit(value: int | None, blocks: int) -> None:
    width = 8 * blocks
    lay = layout(value, width, 8)
    if value is not None:
        assert lay.text == str(value) or (lay.text.endswith("+") and set(lay.text[:-1]) <= {"9"})
        if lay.text != str(value):
            assert int(lay.text[:-1] or 0) < value  # "largest number that fits, then +": never more than the truth
    assert lay.x >= 0 and lay.x + len(lay.columns) <= width
    plain = pixels(render(value, width))
    marked = pixels(render(value, width, stale_mark=True))
    assert sum(r.count("#") for r in marked) == sum(r.count("#") for r in plain) + 1
    lit = [(x, y) for y, row in enumerate(plain) for x, c in enumerate(row) if c == "#"]
    assert all(marked[y][x] == "#" for x, y in lit)  # the mark only adds a pixel, it never covers one
