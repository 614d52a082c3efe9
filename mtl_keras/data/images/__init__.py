"""Images on their way from files to a model: decoded and resized the same way for training and
prediction (`images`), in one checked pass over a folder (`decoding`), streamed from disk while a
run trains (`streams`) or decoded once into record shards (`record_cache`).

These modules know nothing of heads or datasets: a dataset hands them its files and they give
back uint8 images (or a stream of them).
"""
