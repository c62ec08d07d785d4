"""A recording SPI bus and a model of a MAX7219 chain that turns the recorded bytes back into lit LEDs.

The register map comes from the MAX7219 datasheet, not from luma, so the tests check luma's real driver
against the chip rather than against itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NOOP, DIGIT_0, DECODE_MODE, INTENSITY, SCAN_LIMIT, SHUTDOWN, DISPLAY_TEST = 0x0, 0x1, 0x9, 0xA, 0xB, 0xC, 0xF


class RecordingSerial:
    """Stands in for luma's `spi()`: every `data()` call is one chip-select frame shifted through the chain."""

    def __init__(self) -> None:
        self.frames: list[list[int]] = []
        self.commands: list[tuple[int, ...]] = []
        self.cleaned_up = False

    def data(self, data: list[int]) -> None:
        self.frames.append([int(b) for b in data])

    def command(self, *cmd: int) -> None:
        self.commands.append(tuple(cmd))

    def cleanup(self) -> None:
        self.cleaned_up = True


@dataclass
class Chip:
    """The registers of one MAX7219 that matter for what is lit."""

    digits: list[int] = field(default_factory=lambda: [0] * 8)
    intensity: int | None = None
    shutdown: int = 0  # 0 = shutdown mode (power-on default), 1 = normal operation
    scan_limit: int = 0
    decode_mode: int | None = None
    display_test: int = 0

    def write(self, register: int, value: int) -> None:
        if DIGIT_0 <= register <= DIGIT_0 + 7:
            self.digits[register - DIGIT_0] = value
        elif register == INTENSITY:
            self.intensity = value & 0x0F
        elif register == SHUTDOWN:
            self.shutdown = value & 1
        elif register == SCAN_LIMIT:
            self.scan_limit = value & 7
        elif register == DECODE_MODE:
            self.decode_mode = value
        elif register == DISPLAY_TEST:
            self.display_test = value & 1
        elif register != NOOP:
            raise AssertionError(f"write to unknown MAX7219 register {register:#x}")


class Chain:
    """N chips; chip 0 sits next to the Pi's DIN, so the first pair of a frame ends up in the farthest chip."""

    def __init__(self, n: int) -> None:
        self.chips = [Chip() for _ in range(n)]

    def feed(self, serial: RecordingSerial) -> Chain:
        for frame in serial.frames:
            n = len(self.chips)
            assert len(frame) == 2 * n, f"a frame of {len(frame)} bytes does not fill a chain of {n} chips"
            for i in range(n):
                self.chips[n - 1 - i].write(frame[2 * i], frame[2 * i + 1])
        return self

    def lit(self, module: str, reverse: bool = False) -> list[str]:
        """Rows of `#`/`.` as a person in front of the matrices sees them.

        `module` "fc16": each chip's digit register d lights row 7-d and bit b lights column b (the 4-in-1
        FC-16 boards, DIN on the left). "generic": digit d is column d and bit b is row b. `reverse`: chip 0
        is the rightmost block (chain wired from the right).
        """
        n = len(self.chips)
        grid = [["."] * (8 * n) for _ in range(8)]
        for k, chip in enumerate(self.chips):
            block = n - 1 - k if reverse else k
            assert not chip.display_test, "display test mode (all LEDs on) was left on"
            if not chip.shutdown or chip.scan_limit != 7 or chip.decode_mode != 0:
                continue  # dark, or only some rows scanned, or BCD-decoding: nothing we drew is lit
            for d, byte in enumerate(chip.digits):
                for b in range(8):
                    if byte >> b & 1:
                        x, y = (b, 7 - d) if module == "fc16" else (d, b)
                        grid[y][8 * block + x] = "#"
        return ["".join(row) for row in grid]
