"""The public paths kept by the layout of issue 26: study modules import `morec_core.studies`
(now morec_core.study.studies), and that path must keep giving them the same objects."""

import inspect

import morec_core.studies as public
from morec_core.study import studies as definitions


def test_the_public_studies_path_gives_the_same_objects_as_the_definitions_module():
    from morec_core.studies import IDREC_LR, WEIGHT_DECAY, Arm, Study, idrec_arm, morec_arm

    assert Study is definitions.Study and Arm is definitions.Arm
    assert idrec_arm is definitions.idrec_arm and morec_arm is definitions.morec_arm
    assert (IDREC_LR, WEIGHT_DECAY) == (definitions.IDREC_LR, definitions.WEIGHT_DECAY)


def test_every_public_name_of_the_definitions_is_re_exported_by_name():
    # A name added to the definitions module and not to the shim's list still resolves through
    # its module __getattr__, but `from morec_core.studies import *` and type checkers see only
    # the list: keep it whole.
    own = {name for name, value in vars(definitions).items()
           if not name.startswith("_") and not inspect.ismodule(value)
           and getattr(value, "__module__", definitions.__name__) == definitions.__name__}
    assert own <= set(public.__all__)


def test_a_name_outside_the_list_still_resolves_through_the_public_path():
    assert public._text is definitions._text
