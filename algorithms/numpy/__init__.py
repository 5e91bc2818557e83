"""NumPy reference implementations: paper-shaped, per-client loops, float64.

Every module registers its algorithm with :func:`algorithms.registry.register`; importing this
package (done by ``algorithms.names()`` / ``algorithms.run``) registers them all.
"""
