"""What `forumctl dev up` prints once the stack runs (how to reach it, what to try), and the
shell settings `forumctl dev env` prints for `eval`."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from forumctl.dev.launch import FAKE_CREDENTIALS
from forumctl.dev.state import DevState

_TRY_PATHS = {"users": "/api/users", "threads": "/api/threads", "posts": "/api/posts/in-thread/1"}


def _q(path: Path | str) -> str:
    return shlex.quote(str(path))


def shell_env(state: DevState) -> dict[str, str]:
    """What a shell needs to use this stack: forumctl and kubectl on PATH, and in DynamoDB mode
    the kubeconfig and the AWS settings of the moto server."""
    bins = [Path(sys.executable).parent]
    env: dict[str, str] = {}
    if state.mode == "dynamodb":
        bins.append(state.checkout / ".tools" / "bin")
        env["KUBECONFIG"] = str(state.kubeconfig)
        env["AWS_ENDPOINT_URL"] = str(state.aws_endpoint)
        env.update(FAKE_CREDENTIALS)
        env["AWS_REGION"] = str(state.primary_region)
    return {"PATH": ":".join(str(b) for b in bins) + ":$PATH", **env}


def export_lines(state: DevState) -> list[str]:
    lines = []
    for key, value in shell_env(state).items():
        # PATH keeps the user's own $PATH expandable; every other value is quoted
        shown = value if key == "PATH" and " " not in value else _q(value)
        lines.append(f"export {key}={shown}")
    return lines


def what_to_try(state: DevState, state_dir: Path) -> str:
    flag = _state_flag(state, state_dir)
    lines = [f"forumdb runs on 127.0.0.1 ({state.mode} mode; state in {state_dir})", ""]
    lines.append("Services:")
    lines += [f"  {kind:<8} {url}" for kind, url in state.services.items()]
    lines += ["", "Try:"]
    lines += [f"  curl {url}{_TRY_PATHS[kind]}" for kind, url in state.services.items()]
    if state.mode == "dynamodb":
        lines += [
            "",
            f'Then kubectl and forumctl against this stack (or: eval "$(forumctl dev env{flag})"):',
        ]
        lines += [f"  {line}" for line in export_lines(state)]
        lines += ["  kubectl get forumdb", f"  forumctl verify --forumdb {state.forumdb}"]
        if state.webhook:
            lines += [
                "",
                "A ForumDatabase with a mistake across fields is refused at `kubectl apply`, as in",
                f"a cluster: the operator's admission webhook ({state.webhook.url}, "
                f"ValidatingWebhookConfiguration {state.webhook.configuration}).",
            ]
        posts = state.services.get("posts")
        if state.oidc_issuer and posts:
            lines += [
                "",
                "Writes need a token of the stack's OIDC issuer (here as user 4 of the sample):",
                f'  curl -X POST {posts}/api/posts -H "Content-Type: application/json" \\',
                f'       -H "Authorization: Bearer $(forumctl dev token --user 4{flag})" \\',
                """       -d '{"thread": 1, "text": "Hello from a verified user"}'""",
            ]
    lines += ["", f"Stop it with: forumctl dev down{flag}"]
    return "\n".join(lines)


def _state_flag(state: DevState, state_dir: Path) -> str:
    default = state.checkout / ".forumdb-dev"
    return "" if state_dir == default else f" --state-dir {_q(state_dir)}"
