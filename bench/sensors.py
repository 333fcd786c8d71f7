"""Sensors benchmark: cost per button edge and per tick, and what gpiozero's Button would cost idle.

    python bench/sensors.py

Rows (medians of 7 runs; 2 shared cores, so expect noise):

* edge: one drive_low/drive_high pair on a MockFactory pin through build_sensors (debounce, kiosk logic,
  LED refresh, ListSink), against the baseline of the same pair on a bare gpiozero DigitalInputDevice;
* tick: Sensors.tick() for the example station (2 restrooms, 2 kiosks, 12 buttons), against the
  service's 0.2 s tick period;
* back-fill: simulated days per wall second for one station ticking every 1 s / 60 s of simulated time
  with 100 presses a day (the demo replays weeks of history this way);
* idle CPU: 12 example stations built from gpiozero Button (one hold-polling thread per button) versus
  DigitalInputDevice (what the adapter uses), process CPU over 2 s of doing nothing.
"""

import statistics
import threading
import time
from pathlib import Path

from gpiozero import Button, DigitalInputDevice
from gpiozero.pins.mock import MockFactory

from edge.config import load_station_config
from edge.events import ListSink
from edge.sensors import build_sensors

ROOT = Path(__file__).resolve().parents[1]
CONFIG = load_station_config(ROOT / "examples" / "station.toml")
RUNS = 7


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def median_us(fn, n: int) -> float:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn(n)
        samples.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(samples)


def edge_baseline(n: int) -> None:
    factory = MockFactory()
    device = DigitalInputDevice(17, pull_up=True, pin_factory=factory)
    device.when_activated = device.when_deactivated = lambda: None
    pin = factory.pin(17)
    for _ in range(n):
        pin.drive_low()
        pin.drive_high()
    device.close()


def edge_sensors(n: int) -> None:
    factory, clock = MockFactory(), Clock()
    sensors = build_sensors(CONFIG, ListSink(), pin_factory=factory, clock=clock)
    pin = factory.pin(CONFIG.kiosks[1].buttons[-1])
    for _ in range(n):
        pin.drive_low()
        clock.now += 0.1
        pin.drive_high()
        clock.now += 0.1
    sensors.close()


def tick(n: int) -> None:
    clock = Clock()
    sensors = build_sensors(CONFIG, ListSink(), pin_factory=MockFactory(), clock=clock)
    for _ in range(n):
        clock.now += 0.2
        sensors.tick()
    sensors.close()


def backfill_days_per_s(tick_every_s: float, days: float) -> float:
    factory, clock = MockFactory(), Clock()
    sensors = build_sensors(CONFIG, ListSink(), pin_factory=factory, clock=clock)
    pins = [CONFIG.restrooms[0].button_pin, *CONFIG.kiosks[1].buttons]
    press_every = 86_400 / 100
    start, end, next_press, i = time.perf_counter(), clock.now + days * 86_400, clock.now, 0
    while clock.now < end:
        clock.now += tick_every_s
        sensors.tick()
        while next_press <= clock.now:
            pin = factory.pin(pins[i % len(pins)])
            pin.drive_low()
            clock.now += 0.1
            pin.drive_high()
            next_press += press_every
            i += 1
    sensors.close()
    return days / (time.perf_counter() - start)


def idle_cpu_percent(device_class) -> tuple[float, int]:
    threads_before = threading.active_count()
    devices = []
    for _ in range(12):
        factory = MockFactory()
        for _path, pin in CONFIG.pins():
            if "led" not in _path and "buzzer" not in _path:
                devices.append(device_class(pin, pull_up=True, pin_factory=factory))
    extra_threads = threading.active_count() - threads_before
    cpu, wall = time.process_time(), time.perf_counter()
    time.sleep(2.0)
    used = (time.process_time() - cpu) / (time.perf_counter() - wall) * 100
    for device in devices:
        device.close()
    return used, extra_threads


def main() -> None:
    base, ours = median_us(edge_baseline, 2000), median_us(edge_sensors, 2000)
    print(f"{'edge (press+release)':<28}{'baseline':>12}{'sensors':>12}{'ratio':>8}")
    print(f"{'':<28}{base:>10.1f}us{ours:>10.1f}us{ours / base:>8.1f}")
    per_tick = median_us(tick, 5000)
    print(f"\n{'tick (example station)':<28}{'budget':>12}{'tick':>12}{'share':>8}")
    print(f"{'':<28}{200_000:>10.0f}us{per_tick:>10.1f}us{per_tick / 200_000:>8.2%}")
    print(f"\n{'back-fill, 100 presses/day':<28}{'tick 1 s':>12}{'tick 60 s':>12}{'ratio':>8}")
    fine, coarse = backfill_days_per_s(1.0, 1.0), backfill_days_per_s(60.0, 30.0)
    print(f"{'simulated days per second':<28}{fine:>12.2f}{coarse:>12.1f}{coarse / fine:>8.0f}")
    button_cpu, button_threads = idle_cpu_percent(Button)
    ours_cpu, ours_threads = idle_cpu_percent(DigitalInputDevice)
    print(f"\n{'idle, 12 stations':<28}{'Button':>12}{'DigitalIn':>12}")
    print(f"{'threads started':<28}{button_threads:>12}{ours_threads:>12}")
    print(f"{'process CPU %':<28}{button_cpu:>12.1f}{ours_cpu:>12.1f}")


if __name__ == "__main__":
    main()
