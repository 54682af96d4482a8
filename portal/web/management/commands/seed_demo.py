"""Idempotent demo data: a call, organisations of every type, applications in several states, allocations.

Running it twice leaves the same data: users, organisations, calls and applications are found by their
natural keys (email, registration number, title) before anything is created.
"""

import os
import shutil
import subprocess
import sys
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from portal.accounts.models import User
from portal.applications import services as applications
from portal.applications.models import Application, Review
from portal.calls.models import Call
from portal.environments.models import Environment
from portal.environments.services import environment_create
from portal.organisations.models import Membership, Organisation
from portal.organisations.services import organisation_create, organisation_verify
from portal.providers.models import Provider
from portal.providers.services import cluster_create, contract_create, provider_create
from portal.web.round_seed import seed_round
from quotas import services as quota_services
from quotas.agreements import agreement_accept
from quotas.calls import call_create
from quotas.models import Agreement, Allocation
from quotas.round import round_approve, round_propose
from scheduler.backends import get_backend
from scheduler.backends.local import LocalBackend, simulated_nodes
from scheduler.inventory import inventory_sync
from scheduler.models import Job
from scheduler.services import job_submit

CALL_TITLE = "2026 AI Computing Resource Support — Round 2"
# A finished allocation round beside it (portal/web/round_seed.py): ranked, proposed, approved.
DEMO_ROUND_TAG = "demo"
DEMO_ROUND_APPLICATIONS = 60
# Two providers the programme rents from, each with one cluster of this machine's simulated GPUs (the
# demo sets GPUGRANT_LOCAL_CLUSTERS to match): different GPU types, regions, prices and contract kinds.
DEMO_PROVIDERS = [
    # provider, cluster, region, GPU type, contract kind, KRW per GPU-hour
    ("Hanbit Cloud", "hanbit-seoul-1", "capital", "A100", "reserved", "2900"),
    ("Namdo GPU", "namdo-gwangju-1", "non_capital", "H100", "on_demand", "4500"),
]
DEMO_LOCAL_CLUSTERS = ",".join(f"{gpu_type}={cluster}" for _, cluster, _, gpu_type, _, _ in DEMO_PROVIDERS)

USERS = [
    # email, full name, staff, reviewer
    ("staff@demo.test", "Programme Staff (Kim Minji)", True, False),
    ("reviewer@demo.test", "Reviewer Lee Jiho", False, True),
    ("reviewer2@demo.test", "Reviewer Park Seoyeon", False, True),
    ("alice@demo.test", "Alice Choi", False, False),
    ("bob@demo.test", "Bob Jung", False, False),
    ("carol@demo.test", "Carol Han", False, False),
    ("dan@demo.test", "Dan Yoon", False, False),
    ("erin@demo.test", "Erin Kang", False, False),
    ("frank@demo.test", "Frank Seo", False, False),
]

ORGANISATIONS = [
    # registration number, name, type, owner, other members, verified
    ("110-81-00001", "Hangang Vision AI (SME)", "sme", "alice@demo.test", ["bob@demo.test"], True),
    ("UNIV-0002", "Daejeon National University", "university", "carol@demo.test", [], True),
    ("220-86-00003", "Jeju Speech Startup", "startup", "dan@demo.test", [], True),
    ("PUB-0004", "Seoul Metropolitan Data Agency", "public_institution", "erin@demo.test", [], True),
    ("RI-0005", "Korea Institute of Robotics", "research_institute", "frank@demo.test", [], False),
]

LOGINS = [
    ("staff@demo.test", "staff: calls, reviewer assignment, decisions, verification, /admin/"),
    ("reviewer@demo.test", "reviewer: has applications to score"),
    ("reviewer2@demo.test", "reviewer"),
    ("alice@demo.test", "owner of an SME with an active A100 allocation"),
    ("bob@demo.test", "member of Alice's SME"),
    ("carol@demo.test", "owner of a university with an active H100 allocation"),
]

DEMO_ENVIRONMENTS = [
    dict(
        name="python-3.11",
        display_name="Python 3.11",
        image="python:3.11-slim",
        cuda_version="none",
        for_inference=True,
        description="Plain Python (standard library only), for small scripts and the demo jobs.",
        description_ko="표준 라이브러리만 있는 Python 환경으로, 간단한 스크립트와 데모 작업용입니다.",
    ),
    dict(
        name="jupyterlab-4",
        display_name="JupyterLab 4",
        image="quay.io/jupyter/scipy-notebook:2026-11-30",
        cuda_version="none",
        for_training=False,
        for_sessions=True,
        description="JupyterLab with a Python kernel and a terminal, for interactive sessions.",
        description_ko="Python 커널과 터미널이 있는 JupyterLab으로, 대화형 세션용입니다.",
    ),
    dict(
        name="pytorch-2.5-cuda12.4",
        display_name="PyTorch 2.5 (CUDA 12.4)",
        image="pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
        cuda_version="12.4",
        description="PyTorch 2.5.1 with cuDNN 9, for training and fine-tuning.",
        description_ko="cuDNN 9가 포함된 PyTorch 2.5.1로, 학습과 미세 조정용입니다.",
    ),
    dict(
        name="tensorflow-2.17-cuda12.3",
        display_name="TensorFlow 2.17 (CUDA 12.3)",
        image="tensorflow/tensorflow:2.17.0-gpu",
        cuda_version="12.3",
        description="TensorFlow 2.17 with GPU support, for training.",
        description_ko="GPU를 지원하는 TensorFlow 2.17로, 학습용입니다.",
    ),
    dict(
        name="jax-0.4-cuda12.6",
        display_name="JAX 0.4.35 (CUDA 12.6)",
        image="nvcr.io/nvidia/jax:24.10-py3",
        cuda_version="12.6",
        description="NVIDIA's JAX container, for training.",
        description_ko="NVIDIA의 JAX 컨테이너로, 학습용입니다.",
    ),
    dict(
        name="vllm-0.6-cuda12.4",
        display_name="vLLM 0.6.3 (CUDA 12.4)",
        image="vllm/vllm-openai:v0.6.3",
        cuda_version="12.4",
        for_training=False,
        for_inference=True,
        description="vLLM's OpenAI-compatible server, for serving large language models.",
        description_ko="OpenAI 호환 vLLM 서버로, 대규모 언어 모델 서빙용입니다.",
    ),
    dict(
        name="triton-24.10",
        display_name="Triton Inference Server 24.10",
        image="nvcr.io/nvidia/tritonserver:24.10-py3",
        cuda_version="12.6",
        for_training=False,
        for_inference=True,
        description="NVIDIA Triton, for serving models from PyTorch, TensorFlow, ONNX and TensorRT.",
        description_ko="PyTorch, TensorFlow, ONNX, TensorRT 모델을 서빙하는 NVIDIA Triton입니다.",
    ),
]


def demo_password() -> str:
    return os.environ.get("DEMO_PASSWORD") or "demo"


class Command(BaseCommand):
    help = "Create (or complete) the demo data; safe to run repeatedly."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-jobs",
            action="store_true",
            help="leave out the example jobs (bench.session_start: GPUs free)",
        )

    def handle(self, *args, **options):
        with transaction.atomic():
            users = self._users()
            orgs = self._organisations(users)
            call = self._call(users["staff@demo.test"])
            self._applications(users, orgs, call)
            self._environments(users["staff@demo.test"])
            self._providers(users["staff@demo.test"])
            if not options["no_jobs"]:
                self._jobs(users)
            self._finished_round(users["staff@demo.test"])
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

    def _users(self) -> dict[str, User]:
        users = {}
        for email, name, staff, reviewer in USERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email=email,
                    password=demo_password(),
                    full_name=name,
                    is_staff=staff,
                    is_reviewer=reviewer,
                    is_superuser=staff,
                )
            else:
                user.set_password(demo_password())
                user.save(update_fields=["password"])
            users[email] = user
        return users

    def _organisations(self, users) -> dict[str, Organisation]:
        staff = users["staff@demo.test"]
        orgs = {}
        for number, name, org_type, owner, members, verified in ORGANISATIONS:
            organisation = Organisation.objects.filter(registration_number=number).first()
            if organisation is None:
                organisation = organisation_create(
                    creator=users[owner], name=name, org_type=org_type, registration_number=number
                )
                if verified:
                    organisation = organisation_verify(organisation=organisation, staff=staff)
            for email in members:
                Membership.objects.get_or_create(organisation=organisation, user=users[email])
            orgs[owner] = organisation
        return orgs

    def _call(self, staff) -> Call:
        call = Call.objects.filter(title=CALL_TITLE).first()
        if call is not None:
            return call
        now = timezone.now()
        today = timezone.localdate()
        return call_create(
            staff=staff,
            title=CALL_TITLE,
            description="GPU compute for Korean SMEs, startups, universities and public institutions.",
            opens_at=now - timedelta(days=30),
            closes_at=now + timedelta(days=60),
            eligible_org_types=["sme", "startup", "university", "public_institution", "research_institute"],
            allocation_start=today - timedelta(days=30),
            allocation_end=today + timedelta(days=365),
            pools=[
                {"gpu_type": "A100", "total_gpu_hours": 200_000, "max_gpu_hours_per_application": 30_000},
                {"gpu_type": "H100", "total_gpu_hours": 100_000, "max_gpu_hours_per_application": 15_000},
            ],
        )

    def _application(
        self, user, organisation, call, title, gpu_requests, **extra
    ) -> tuple[Application, bool]:
        existing = Application.objects.filter(organisation=organisation, project_title=title).first()
        if existing is not None:
            return existing, False
        start = call.allocation_start + timedelta(days=10)
        application = applications.application_create(
            user=user,
            organisation=organisation,
            call=call,
            project_title=title,
            summary=extra.get("summary", f"{title}: a demo project."),
            field=extra.get("field", "nlp"),
            requested_start=start,
            requested_end=start + timedelta(days=extra.get("days", 180)),
            max_concurrent_gpus=extra.get("max_concurrent_gpus", 8),
            justification="We have no GPUs of our own; public compute makes this project possible.",
            gpu_requests=gpu_requests,
        )
        return application, True

    def _approve(self, application, users, reviewer_email, awarded=None):
        staff = users["staff@demo.test"]
        reviewer = users[reviewer_email]
        applications.application_submit(application=application, user=application.created_by)
        applications.review_assign(application=application, staff=staff, reviewers=[reviewer])
        review = Review.objects.get(application=application, reviewer=reviewer, round=1)
        applications.review_submit(
            review=review,
            reviewer=reviewer,
            technical_merit=5,
            feasibility=4,
            impact=4,
            need_for_public_compute=5,
            public_comment="Clear plan and a real need.",
            private_comment="Team delivered on a previous grant.",
        )
        quota_services.application_decide(
            application=application,
            staff=staff,
            decision="approve",
            reason="Strong, well-justified need.",
            awarded_gpu_hours=awarded,
        )

    def _applications(self, users, orgs, call) -> None:
        alice, carol, dan, erin = (
            users[e] for e in ("alice@demo.test", "carol@demo.test", "dan@demo.test", "erin@demo.test")
        )
        staff = users["staff@demo.test"]

        app, new = self._application(
            alice,
            orgs["alice@demo.test"],
            call,
            "Korean retail vision models",
            {"A100": 20_000},
            field="vision",
        )
        if new:
            self._approve(app, users, "reviewer@demo.test", awarded={"A100": 16_000})

        app, new = self._application(
            carol,
            orgs["carol@demo.test"],
            call,
            "Protein structure prediction",
            {"H100": 12_000},
            field="health",
            max_concurrent_gpus=16,
        )
        if new:
            self._approve(app, users, "reviewer2@demo.test")

        self._application(
            alice, orgs["alice@demo.test"], call, "Shelf-audit chatbot (draft)", {"H100": 2_000}
        )

        app, new = self._application(
            dan,
            orgs["dan@demo.test"],
            call,
            "Jeju dialect speech recognition",
            {"A100": 8_000},
            field="speech",
        )
        if new:
            applications.application_submit(application=app, user=dan)

        app, new = self._application(
            erin,
            orgs["erin@demo.test"],
            call,
            "Citizen-complaint triage LLM",
            {"A100": 10_000, "H100": 3_000},
        )
        if new:
            applications.application_submit(application=app, user=erin)
            applications.review_assign(application=app, staff=staff, reviewers=[users["reviewer@demo.test"]])

        app, new = self._application(
            dan, orgs["dan@demo.test"], call, "Voice cloning at scale", {"H100": 15_000}, field="speech"
        )
        if new:
            applications.application_submit(application=app, user=dan)
            applications.review_assign(application=app, staff=staff, reviewers=[users["reviewer2@demo.test"]])
            quota_services.application_decide(
                application=app,
                staff=staff,
                decision="request_revision",
                reason="Please explain consent for the voice data and reduce the H100 request.",
            )

        app, new = self._application(
            erin,
            orgs["erin@demo.test"],
            call,
            "Traffic camera re-identification",
            {"A100": 5_000},
            field="vision",
        )
        if new:
            applications.application_submit(application=app, user=erin)
            applications.review_assign(application=app, staff=staff, reviewers=[users["reviewer2@demo.test"]])
            quota_services.application_decide(
                application=app,
                staff=staff,
                decision="reject",
                reason="Out of the programme's scope: surveillance uses are not supported.",
            )

    def _finished_round(self, staff) -> None:
        """A call whose round is over (seed_round's: ranked, proposed, approved), half of its agreements
        accepted, so a newcomer can look at the ranking, the proposal and its reasons, and the statistics."""
        if Call.objects.filter(title__startswith=f"Allocation round {DEMO_ROUND_TAG} ").exists():
            return
        seeded = seed_round(
            applications_count=DEMO_ROUND_APPLICATIONS,
            seed=11,
            tag=DEMO_ROUND_TAG,
            staff=staff,
            password=demo_password(),
        )
        round_propose(staff=staff, call=seeded.call)
        round_approve(staff=staff, call=seeded.call)
        pending = Agreement.objects.filter(allocation__call=seeded.call).select_related(
            "allocation__application"
        )
        for agreement in list(pending.order_by("allocation__application__project_title"))[::2]:
            agreement_accept(
                user=agreement.allocation.application.created_by,
                agreement=agreement,
                terms_version=agreement.terms_version,
                address="127.0.0.1",
            )

    def _environments(self, staff) -> None:
        """The catalogue users pick from; the demo's own jobs run the plain Python one."""
        for values in DEMO_ENVIRONMENTS:
            if not Environment.objects.filter(name=values["name"]).exists():
                environment_create(staff=staff, **values)

    def _providers(self, staff) -> None:
        """Two providers with a cluster and a contract each, from the start of last month to a year on."""
        today = timezone.localdate()
        starts = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        local_gpus = {node.gpu_type: node.gpu_count for node in simulated_nodes(settings.GPUGRANT_LOCAL_GPUS)}
        for name, cluster, region, gpu_type, kind, price in DEMO_PROVIDERS:
            if Provider.objects.filter(name=name).exists():
                continue
            provider = provider_create(staff=staff, name=name, contact_email=f"gpu-ops@{cluster}.example")
            count = local_gpus.get(gpu_type, 4)
            cluster_create(
                staff=staff,
                provider=provider,
                name=cluster,
                backend="local",
                region=region,
                gpus={gpu_type: count},
            )
            contract_create(
                staff=staff,
                provider=provider,
                gpu_type=gpu_type,
                gpus=count,
                starts_on=starts,
                ends_on=starts + timedelta(days=365),
                price_krw_per_gpu_hour=price,
                kind=kind,
            )

    def _jobs(self, users) -> None:
        """Example jobs per demo allocation (workers/examples) that really run on the local backend."""
        inventory_sync(backend=get_backend())
        work = settings.VAR_DIR / "demo-jobs"
        pretrained = work / "pretrained"
        if not (pretrained / "model.npz").exists():
            # The inference job needs a model from the start; train a small one now (a few seconds).
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "workers.examples.train",
                    "--steps",
                    "200",
                    "--checkpoint-dir",
                    str(pretrained),
                    "--seed",
                    "7",
                    "--log-every",
                    "1000",
                ],
                check=True,
                capture_output=True,
                timeout=300,
            )

        def train(seed: int) -> list[str]:
            return [
                sys.executable,
                "-m",
                "workers.examples.train",
                "--steps",
                "400",
                "--checkpoint-every",
                "50",
                "--step-delay",
                "0.05",
                "--seed",
                str(seed),
            ]  # checkpoints go to the job's own folder, $GPUGRANT_CHECKPOINT_DIR: it sees no other

        # Reads the model staged into its own checkpoint folder below; writes predictions in its workspace.
        serve = [sys.executable, "-m", "workers.examples.infer", "--batches", "40"]
        plans = [
            (
                "alice@demo.test",
                "A100",
                "retail-vision-train",
                "training",
                train(1),
                2,
            ),
            ("alice@demo.test", "A100", "retail-vision-serve", "inference", serve, 1),
            ("carol@demo.test", "H100", "protein-fold-train", "training", train(2), 4),
        ]
        # A small seed sweep on all four H100s: the runs wait for one another, and once two of carol's
        # 4-GPU jobs have finished the rest show a runtime predicted from them and a start range.
        plans += [
            ("carol@demo.test", "H100", f"protein-fold-sweep-{seed}", "training", train(seed), 4)
            for seed in (3, 4, 5)
        ]
        for email, gpu_type, name, kind, command, gpus in plans:
            user = users[email]
            allocation = Allocation.objects.filter(
                organisation__memberships__user=user, status="active"
            ).first()
            if allocation is None or Job.objects.filter(allocation=allocation, name=name).exists():
                continue
            submitted = job_submit(
                user=user,
                allocation=allocation,
                name=name,
                kind=kind,
                environment_name="python-3.11",
                command=command,
                gpu_type=gpu_type,
                gpus_per_pod=gpus,
                max_runtime_minutes=15,
            )
            backend = get_backend()
            if kind == "inference" and isinstance(backend, LocalBackend):
                # The sandbox shows the job only its own folders: give it the model to start from.
                staged = backend.checkpoint_dir(str(submitted.public_id))
                shutil.copy2(pretrained / "model.npz", staged / "model.npz")
