"""Long-lived processes (batch, interview, serve) freeze the compiled rules out of the garbage
collector's way, so a full collection never stalls a consultation by walking the network."""
import subprocess
import sys
import textwrap


def test_freeze_compiled_takes_the_network_out_of_the_collectors_generations(tmp_path):
    """After freeze_compiled() the engine's network is no longer scanned by gc.collect(), and advice is unchanged."""
    script = textwrap.dedent("""
        import gc, json
        from haircare_expert.consult.advisor import Advisor
        from haircare_expert.engine.freeze import freeze_compiled
        advisor = Advisor()
        profile = {"hair": {"type": "curly", "concerns": ["frizz"]}, "habits": {"washes_per_week": 3}}
        before = json.dumps(advisor.consult(profile).to_json(), sort_keys=True)
        root = advisor.engine._engine.matcher.root_node
        tracked = any(obj is root for obj in gc.get_objects())
        frozen = freeze_compiled()
        gc.collect()
        after = json.dumps(advisor.consult(profile).to_json(), sort_keys=True)
        print(tracked, any(obj is root for obj in gc.get_objects()), frozen > 10000, before == after)
    """)
    # run outside the checkout, as an installed user would (the source tree has no shipped data)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert done.stdout.split() == ["True", "False", "True", "True"], done.stderr


def test_a_consultation_leaves_the_garbage_collector_as_it_found_it():
    """The engine pauses the cyclic collector during a run only: a program's collector is on
    again afterwards (or stays off if the program turned it off), even when the run fails."""
    import gc

    import pytest

    from haircare_expert.consult.advisor import Advisor
    from haircare_expert.engine.freeze import collector_paused
    advisor = Advisor()
    profile = {"hair": {"type": "curly", "concerns": ["frizz"]}}
    was = gc.isenabled()
    try:
        gc.enable()
        advisor.consult(profile)
        assert gc.isenabled()
        with pytest.raises(ZeroDivisionError), collector_paused():
            assert not gc.isenabled()
            raise ZeroDivisionError
        assert gc.isenabled()
        gc.disable()
        advisor.consult(profile)
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
