"""The torch-free encoder catalogue names what the registry builds, with the same defaults."""

import subprocess
import sys

from morec_core.encoder_catalog import ENCODER_CATALOG, ENCODER_NAMES, content_of, default_model


def test_the_catalogue_lists_the_registry():
    from morec_core.encoders import ENCODERS

    assert ENCODER_NAMES == tuple(ENCODERS)


def test_the_encoder_modules_use_the_catalogues_default_models():
    from morec_core.encoders import glove, text, vision

    assert (text.DEFAULT_MODEL, vision.DEFAULT_MODEL, glove.DEFAULT_MODEL) == (
        default_model("text"), default_model("vision"), default_model("glove"))
    assert default_model("id") == "" and content_of("id") == "none"
    assert {entry.content for entry in ENCODER_CATALOG.values()} == {
        "none", "tokens", "images", "titles"}


def test_study_definitions_load_without_torch():
    code = ("import sys, morec_core.study.studies, morec_core.encoder_catalog; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
