"""What `forumctl dev up` prints once the stack runs: how to reach it and what to try."""

from __future__ import annotations

import shlex
from pathlib import Path

from forumdb.devstack.launch import FAKE_CREDENTIALS
from forumdb.devstack.state import DevState

_TRY_PATHS = {"users": "/api/users", "threads": "/api/threads", "posts": "/api/posts/in-thread/1"}


def _q(path: Path | str) -> str:
    return shlex.quote(str(path))


def what_to_try(state: DevState, state_dir: Path) -> str:
    lines = [f"forumdb runs on 127.0.0.1 ({state.mode} mode; state in {state_dir})", ""]
    lines.append("Services:")
    lines += [f"  {kind:<8} {url}" for kind, url in state.services.items()]
    lines += ["", "Try:"]
    lines += [f"  curl {url}{_TRY_PATHS[kind]}" for kind, url in state.services.items()]
    if state.mode == "dynamodb":
        creds = " ".join(f"{k}={v}" for k, v in FAKE_CREDENTIALS.items())
        lines += [
            f"  export PATH={_q(state.checkout / '.tools' / 'bin')}:$PATH",
            f"  export KUBECONFIG={_q(state.kubeconfig or '')}",
            "  kubectl get forumdb",
            f"  export AWS_ENDPOINT_URL={state.aws_endpoint} {creds}",
            f"  forumctl verify --forumdb {state.forumdb}",
        ]
    lines += ["", "Stop it with: forumctl dev down" + _state_flag(state, state_dir)]
    return "\n".join(lines)


def _state_flag(state: DevState, state_dir: Path) -> str:
    default = state.checkout / ".forumdb-dev"
    return "" if state_dir == default else f" --state-dir {_q(state_dir)}"
