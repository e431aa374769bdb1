"""``glassnet train --watch``: the live view served beside the training loop, which it can pause and stop."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from glassnet.config import TrainConfig
from glassnet.diagnostics.record import Controller, DiagnosticsRecorder
from glassnet.errors import GlassnetError
from glassnet.train import TrainData
from glassnet.web.live import LiveRun
from glassnet.web.server import DigitApp, DigitServer, make_server


class Watch:
    """The recorder callback, the controller it obeys, and the server thread that shows both."""

    def __init__(self, recorder: DiagnosticsRecorder, live: LiveRun, server: DigitServer) -> None:
        self.recorder, self.live, self.server = recorder, live, server
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)
        self.thread.start()

    def finish(self) -> None:
        """Training is done (the recorder has closed the record): keep the view up (it replays the run) until
        Ctrl-C."""
        try:                                       # a Ctrl-C from the moment the owner reads this ends it cleanly
            print(f"training finished; the live view stays at {self.url} until Ctrl-C", flush=True)
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    @property
    def url(self) -> str:
        """The owner's URL of the live view, with the server's token (printed only to this terminal)."""
        return self.server.owner_url(view="#training")

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def start_watch(run_dir: Path, config: TrainConfig, data: TrainData, mnist: Any, port: int, token: str) -> Watch:
    """Serve the live view of ``run_dir`` on 127.0.0.1:``port``, answering only ``token``'s holder (``owner_token``),
    and return the recorder that feeds it."""
    controller = Controller()
    live = LiveRun(run_dir, controller)
    recorder = DiagnosticsRecorder.for_run(run_dir, config, data, controller)
    try:
        server = make_server(DigitApp(None, mnist.test_images, mnist.test_labels, live=live), "127.0.0.1", port,
                             token)
    except OSError as e:
        raise GlassnetError(f"cannot serve the live view on 127.0.0.1:{port} ({e.strerror or e}); "
                            "choose another --watch-port (0 picks a free one)") from e
    watch = Watch(recorder, live, server)
    print(f"live view: {watch.url}", flush=True)
    return watch
