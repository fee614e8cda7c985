"""The extraction job behind `flowpipe extract`: inputs, decoding, the flow service, one video
end to end on a worker, and the run on a Dask cluster."""
