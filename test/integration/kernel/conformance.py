"""jupyter_kernel_test against the installed NBRewind kernel, plus stdin.

Run by kernel-conformance.test.ts with JUPYTER_PATH pointing at a temporary
prefix holding the kernelspec. The same suite runs twice: as installed (mode
off, a transparent proxy) and after ``%audit on`` (every execute request goes
through the checkpoint session).
"""

import os
import unittest
from queue import Empty

import jupyter_kernel_test


class NBRewindKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = os.environ.get("NBREWIND_TEST_KERNEL", "nbrewind")
    language_name = "python"
    file_extension = ".py"

    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('test', file=sys.stderr)"
    completion_samples = [{"text": "zi", "matches": {"zip"}}]
    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n  return x*2\n\n\n"]
    incomplete_code_samples = ["print('''hello", "def f(x):\n  x*2"]
    invalid_code_samples = ["import = 7q"]
    code_page_something = "zip?"
    code_generate_error = "raise ValueError('boom')"
    code_execute_result = [{"code": "1+2+3", "result": "6"}, {"code": "[n*n for n in range(3)]", "result": "[0, 1, 4]"}]
    code_display_data = [
        {"code": "from IPython.display import HTML, display; display(HTML('<b>test</b>'))", "mime": "text/html"},
        {"code": "from IPython.display import Math, display; display(Math('\\\\frac{1}{2}'))", "mime": "text/latex"},
    ]
    code_history_pattern = "1?2*"
    # "range" is left out: ipykernel answers it with session 0 for the current session, which the suite does not expect (ipykernel alone fails it too).
    supported_history_operations = ("tail", "search")
    code_inspect_sample = "zip"
    code_clear_output = "from IPython.display import clear_output; clear_output()"

    def test_stdin(self):
        """input() in a cell: the request reaches our stdin channel, the answer reaches the cell."""
        self.flush_channels()
        msg_id = self.kc.execute("name = input('who? ')\nprint('hi', name)", allow_stdin=True)
        request = self.kc.get_stdin_msg(timeout=30)
        self.assertEqual(request["msg_type"], "input_request")
        self.assertEqual(request["content"]["prompt"], "who? ")
        self.kc.input("nbrewind")
        reply = self.kc.get_shell_msg(timeout=30)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        self.assertEqual(reply["content"]["status"], "ok")
        out = []
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=5)
            except Empty:
                break
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle" and msg["parent_header"].get("msg_id") == msg_id:
                break
        self.assertIn("hi nbrewind", "".join(out))

    def test_busy_idle_parents(self):
        """Every status message of an execute names that request as its parent, busy first and idle last."""
        self.flush_channels()
        msg_id = self.kc.execute("x = 1")
        states = []
        while True:
            msg = self.kc.get_iopub_msg(timeout=30)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status":
                states.append(msg["content"]["execution_state"])
                if states[-1] == "idle":
                    break
        self.assertEqual(states, ["busy", "idle"])


class NBRewindAuditModeTests(NBRewindKernelTests):
    """The same protocol behaviour while every cell is checkpointed (requests other than execute pass through as in mode off)."""

    def test_completion(self):
        self.skipTest("not an execute request: the same pass-through as in mode off")

    test_inspect = test_is_complete = test_kernel_info = test_completion

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        reply = cls.kc.execute_interactive("%audit on", timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]


if __name__ == "__main__":
    unittest.main(verbosity=2)
